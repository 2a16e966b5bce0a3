# ruff: noqa: E501  (the API table keeps one C prototype per line)
"""Our declarations of the GDNative 3.2 ABI subset the bridge uses.

Only what the bridge calls is declared. Functions are reached by their slot in
the API tables (``void **`` view of each struct; see the facts file): the C
source gets one small static wrapper per entry, so Python calls them as
compiled cffi functions (``lib.gdb_variant_new_int``) instead of going through
libffi for every call. Slots come from Godot 3.2.3's ``gdnative_api.json``
and hold for every 3.x engine (the tables only grow at the end).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Opaque engine types are byte arrays, exactly like the engine's headers, so
# both size and alignment (1) match and struct layouts come out identical.
TYPES = r"""
typedef int godot_int;
typedef float godot_real;
typedef bool godot_bool;
typedef int godot_variant_type;
typedef void godot_method_bind;
typedef struct { uint8_t _opaque[24]; } godot_variant;
typedef struct { uint8_t _opaque[8]; } godot_string;
typedef struct { uint8_t _opaque[8]; } godot_char_string;
typedef struct { uint8_t _opaque[8]; } godot_array;
typedef struct { uint8_t _opaque[8]; } godot_dictionary;
typedef struct { uint8_t _opaque[8]; } godot_pool_byte_array;
typedef struct { uint8_t _opaque[8]; } godot_pool_string_array;
typedef struct { uint8_t _opaque[1]; } godot_pool_byte_array_read_access;
typedef struct { uint8_t _opaque[1]; } godot_pool_byte_array_write_access;

typedef struct { unsigned int major; unsigned int minor; } godot_gdnative_api_version;
typedef struct godot_gdnative_api_struct {
    unsigned int type;
    godot_gdnative_api_version version;
    const struct godot_gdnative_api_struct *next;
} godot_gdnative_api_struct;
typedef struct {
    unsigned int type;
    godot_gdnative_api_version version;
    const godot_gdnative_api_struct *next;
    unsigned int num_extensions;
    const godot_gdnative_api_struct **extensions;
} godot_gdnative_core_api_struct;
typedef struct {
    godot_bool in_editor;
    uint64_t core_api_hash;
    uint64_t editor_api_hash;
    uint64_t no_api_hash;
    void (*report_version_mismatch)(const void *, const char *,
                                    godot_gdnative_api_version, godot_gdnative_api_version);
    void (*report_loading_error)(const void *, const char *);
    void *gd_native_library;
    const godot_gdnative_core_api_struct *api_struct;
    const godot_string *active_library_path;
} godot_gdnative_init_options;

typedef struct { int error; int argument; int expected; } godot_variant_call_error;

typedef struct { int rpc_type; } godot_method_attributes;
typedef struct {
    void *(*create_func)(void *, void *);
    void *method_data;
    void (*free_func)(void *);
} godot_instance_create_func;
typedef struct {
    void (*destroy_func)(void *, void *, void *);
    void *method_data;
    void (*free_func)(void *);
} godot_instance_destroy_func;
typedef struct {
    godot_variant (*method)(void *, void *, void *, int, godot_variant **);
    void *method_data;
    void (*free_func)(void *);
} godot_instance_method;
typedef struct {
    void (*set_func)(void *, void *, void *, godot_variant *);
    void *method_data;
    void (*free_func)(void *);
} godot_property_set_func;
typedef struct {
    godot_variant (*get_func)(void *, void *, void *);
    void *method_data;
    void (*free_func)(void *);
} godot_property_get_func;
typedef struct {
    int rset_type;
    godot_int type;
    int hint;
    godot_string hint_string;
    int usage;
    godot_variant default_value;
} godot_property_attributes;
typedef struct {
    godot_string name;
    godot_int type;
    int hint;
    godot_string hint_string;
    int usage;
    godot_variant default_value;
} godot_signal_argument;
typedef struct {
    godot_string name;
    int num_args;
    godot_signal_argument *args;
    int num_default_args;
    godot_variant *default_args;
} godot_signal;
typedef struct {
    godot_string name;
    godot_int type;
    int hint;
    godot_string hint_string;
} godot_method_arg;
"""

# Tables the bridge binds at init: index into gdb_tables[] in the C source.
CORE_1_0, CORE_1_1, NS_1_0, NS_1_1 = range(4)
TABLE_NAMES = {"core1.0": CORE_1_0, "core1.1": CORE_1_1, "ns1.0": NS_1_0, "ns1.1": NS_1_1}

# table, void** slot, prototype (godot_object is spelled void).
API = r"""
core1.0 160 void godot_pool_byte_array_new(godot_pool_byte_array *r_dest)
core1.0 169 void godot_pool_byte_array_resize(godot_pool_byte_array *p_self, godot_int p_size)
core1.0 170 godot_pool_byte_array_read_access *godot_pool_byte_array_read(const godot_pool_byte_array *p_self)
core1.0 171 godot_pool_byte_array_write_access *godot_pool_byte_array_write(godot_pool_byte_array *p_self)
core1.0 174 godot_int godot_pool_byte_array_size(const godot_pool_byte_array *p_self)
core1.0 175 void godot_pool_byte_array_destroy(godot_pool_byte_array *p_self)
core1.0 208 void godot_pool_string_array_new(godot_pool_string_array *r_dest)
core1.0 211 void godot_pool_string_array_append(godot_pool_string_array *p_self, const godot_string *p_data)
core1.0 221 godot_string godot_pool_string_array_get(const godot_pool_string_array *p_self, godot_int p_idx)
core1.0 222 godot_int godot_pool_string_array_size(const godot_pool_string_array *p_self)
core1.0 223 void godot_pool_string_array_destroy(godot_pool_string_array *p_self)
core1.0 273 const uint8_t *godot_pool_byte_array_read_access_ptr(const godot_pool_byte_array_read_access *p_read)
core1.0 275 void godot_pool_byte_array_read_access_destroy(godot_pool_byte_array_read_access *p_read)
core1.0 301 uint8_t *godot_pool_byte_array_write_access_ptr(const godot_pool_byte_array_write_access *p_write)
core1.0 303 void godot_pool_byte_array_write_access_destroy(godot_pool_byte_array_write_access *p_write)
core1.0 328 void godot_array_new(godot_array *r_dest)
core1.0 340 const godot_variant *godot_array_operator_index_const(const godot_array *p_self, godot_int p_idx)
core1.0 341 void godot_array_append(godot_array *p_self, const godot_variant *p_value)
core1.0 361 godot_int godot_array_size(const godot_array *p_self)
core1.0 366 void godot_array_destroy(godot_array *p_self)
core1.0 367 void godot_dictionary_new(godot_dictionary *r_dest)
core1.0 369 void godot_dictionary_destroy(godot_dictionary *p_self)
core1.0 377 godot_array godot_dictionary_keys(const godot_dictionary *p_self)
core1.0 380 void godot_dictionary_set(godot_dictionary *p_self, const godot_variant *p_key, const godot_variant *p_value)
core1.0 382 const godot_variant *godot_dictionary_operator_index_const(const godot_dictionary *p_self, const godot_variant *p_key)
core1.0 512 godot_variant_type godot_variant_get_type(const godot_variant *p_v)
core1.0 513 void godot_variant_new_copy(godot_variant *r_dest, const godot_variant *p_src)
core1.0 514 void godot_variant_new_nil(godot_variant *r_dest)
core1.0 515 void godot_variant_new_bool(godot_variant *r_dest, godot_bool p_b)
core1.0 517 void godot_variant_new_int(godot_variant *r_dest, int64_t p_i)
core1.0 518 void godot_variant_new_real(godot_variant *r_dest, double p_r)
core1.0 519 void godot_variant_new_string(godot_variant *r_dest, const godot_string *p_s)
core1.0 532 void godot_variant_new_object(godot_variant *r_dest, const void *p_obj)
core1.0 533 void godot_variant_new_dictionary(godot_variant *r_dest, const godot_dictionary *p_dict)
core1.0 534 void godot_variant_new_array(godot_variant *r_dest, const godot_array *p_arr)
core1.0 535 void godot_variant_new_pool_byte_array(godot_variant *r_dest, const godot_pool_byte_array *p_pba)
core1.0 538 void godot_variant_new_pool_string_array(godot_variant *r_dest, const godot_pool_string_array *p_psa)
core1.0 542 godot_bool godot_variant_as_bool(const godot_variant *p_self)
core1.0 544 int64_t godot_variant_as_int(const godot_variant *p_self)
core1.0 545 double godot_variant_as_real(const godot_variant *p_self)
core1.0 546 godot_string godot_variant_as_string(const godot_variant *p_self)
core1.0 559 void *godot_variant_as_object(const godot_variant *p_self)
core1.0 560 godot_dictionary godot_variant_as_dictionary(const godot_variant *p_self)
core1.0 561 godot_array godot_variant_as_array(const godot_variant *p_self)
core1.0 562 godot_pool_byte_array godot_variant_as_pool_byte_array(const godot_variant *p_self)
core1.0 565 godot_pool_string_array godot_variant_as_pool_string_array(const godot_variant *p_self)
core1.0 575 void godot_variant_destroy(godot_variant *p_self)
core1.0 576 godot_int godot_char_string_length(const godot_char_string *p_cs)
core1.0 577 const char *godot_char_string_get_data(const godot_char_string *p_cs)
core1.0 578 void godot_char_string_destroy(godot_char_string *p_cs)
core1.0 579 void godot_string_new(godot_string *r_dest)
core1.0 581 void godot_string_new_with_wide_string(godot_string *r_dest, const wchar_t *p_contents, int p_size)
core1.0 584 const wchar_t *godot_string_wide_str(const godot_string *p_self)
core1.0 588 godot_int godot_string_length(const godot_string *p_self)
core1.0 683 godot_char_string godot_string_utf8(const godot_string *p_self)
core1.0 687 godot_string godot_string_chars_to_utf8_with_len(const char *p_utf8, godot_int p_len)
core1.0 726 void godot_string_destroy(godot_string *p_self)
core1.0 736 void *godot_global_get_singleton(char *p_name)
core1.0 737 godot_method_bind *godot_method_bind_get_method(const char *p_classname, const char *p_methodname)
core1.0 739 godot_variant godot_method_bind_call(godot_method_bind *p_method_bind, void *p_instance, const godot_variant **p_args, const int p_arg_count, godot_variant_call_error *p_call_error)
core1.0 746 void godot_print_error(const char *p_description, const char *p_function, const char *p_file, int p_line)
core1.0 747 void godot_print_warning(const char *p_description, const char *p_function, const char *p_file, int p_line)
core1.0 748 void godot_print(const godot_string *p_message)
core1.1 32 bool godot_is_instance_valid(const void *p_object)
ns1.0 3 void godot_nativescript_register_class(void *p_handle, const char *p_name, const char *p_base, godot_instance_create_func p_create_func, godot_instance_destroy_func p_destroy_func)
ns1.0 4 void godot_nativescript_register_tool_class(void *p_handle, const char *p_name, const char *p_base, godot_instance_create_func p_create_func, godot_instance_destroy_func p_destroy_func)
ns1.0 5 void godot_nativescript_register_method(void *p_handle, const char *p_name, const char *p_function_name, godot_method_attributes p_attr, godot_instance_method p_method)
ns1.0 6 void godot_nativescript_register_property(void *p_handle, const char *p_name, const char *p_path, godot_property_attributes *p_attr, godot_property_set_func p_set_func, godot_property_get_func p_get_func)
ns1.0 7 void godot_nativescript_register_signal(void *p_handle, const char *p_name, const godot_signal *p_signal)
ns1.0 8 void *godot_nativescript_get_userdata(void *p_instance)
ns1.1 3 void godot_nativescript_set_method_argument_information(void *p_handle, const char *p_name, const char *p_function_name, int p_num_args, const godot_method_arg *p_args)
"""

_PROTO = re.compile(r"^(?P<ret>.+?[\s*])(?P<name>godot_\w+)\((?P<params>.*)\)$")


@dataclass(frozen=True)
class Entry:
    table: int
    slot: int
    ret: str
    name: str  # engine name, e.g. godot_variant_new_int
    params: tuple[str, ...]

    @property
    def wrapper(self) -> str:
        # gdb_variant_new_int: the name Python calls through `lib`.
        return "gdb_" + self.name.removeprefix("godot_")

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(re.findall(r"(\w+)\s*$", p)[0] for p in self.params)


def entries() -> list[Entry]:
    out = []
    for line in API.strip().splitlines():
        table, slot, proto = line.split(None, 2)
        m = _PROTO.match(proto.strip())
        if m is None:
            raise ValueError(f"bad prototype: {proto}")
        params = tuple(p.strip() for p in m["params"].split(",") if p.strip())
        out.append(Entry(TABLE_NAMES[table], int(slot), m["ret"].strip(), m["name"], params))
    return out


def wrapper_decls() -> str:
    """cdef lines for every wrapper (what Python sees)."""
    return "\n".join(f"{e.ret} {e.wrapper}({', '.join(e.params) or 'void'});" for e in entries())


def wrapper_defs() -> str:
    """C definitions: call the engine function found at the entry's slot."""
    lines = []
    for e in entries():
        params = ", ".join(e.params) or "void"
        fnptr = f"{e.ret} (*)({', '.join(e.params) or 'void'})"
        call = f"(({fnptr})gdb_tables[{e.table}][{e.slot}])({', '.join(e.param_names)})"
        body = f"{call};" if e.ret == "void" else f"return {call};"
        lines.append(f"static {e.ret} {e.wrapper}({params}) {{ {body} }}")
    return "\n".join(lines)


# Python's side of the engine's entry points (cffi generates the C stubs); the
# godot_* symbols themselves are C in build.py and call these only when Python runs.
EXPORTS = r"""
void gdb_py_gdnative_init(godot_gdnative_init_options *options);
void gdb_py_gdnative_terminate(void *options);
void gdb_py_nativescript_init(void *handle);
void gdb_py_nativescript_terminate(void *handle);
"""

# Python callbacks handed to NativeScript, plus helpers written in C.
CALLBACKS = r"""
extern "Python" void *gdb_py_create(void *, void *);
extern "Python" void gdb_py_destroy(void *, void *, void *);
extern "Python" godot_variant gdb_py_method(void *, void *, void *, int, godot_variant **);
extern "Python" void gdb_py_set(void *, void *, void *, godot_variant *);
extern "Python" godot_variant gdb_py_get(void *, void *, void *);

int gdb_bind(const godot_gdnative_init_options *options);

typedef struct {
    godot_pool_byte_array array;
    godot_pool_byte_array_read_access *r;
    godot_pool_byte_array_write_access *w;
    int size;
} gdb_pba_io;
uint8_t *gdb_pba_write_open(gdb_pba_io *io, int size);
void gdb_pba_write_close(gdb_pba_io *io, godot_variant *dest, int used);
const uint8_t *gdb_pba_read_open(gdb_pba_io *io, const godot_variant *src);
void gdb_pba_read_close(gdb_pba_io *io);
void gdb_variant_new_bytes(godot_variant *dest, const char *data, int size);
int gdb_has_table(int table);
void gdb_mark_attached(void);
"""
