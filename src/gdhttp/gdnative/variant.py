"""Variant <-> Python, honouring GDNative's ownership rules.

Rules (facts file §1.6): everything we create or receive by value we destroy;
variants handed to us as ``godot_variant *`` arguments are borrowed; a variant
we return is owned by Godot afterwards.

Mapping: nil/None, bool, int, float, String/str, PoolByteArray/bytes (one
copy), PoolStringArray/list[str], Array/list, Dictionary/dict (order kept),
Object/``GodotObject``. Other engine types travel as an opaque ``VariantBox``
so they round-trip unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gdhttp.gdnative.tags import VariantType

ffi: Any = None
lib: Any = None

NIL, BOOL, INT, REAL, STRING = 0, 1, 2, 3, 4
OBJECT, DICTIONARY, ARRAY, POOL_BYTE_ARRAY, POOL_STRING_ARRAY = 17, 18, 19, 20, 23

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1

# Prebuilt return values: POD variants (nil, bool, small int) need no destroy, so
# one copy can be returned any number of times. This keeps idle poll() cheap.
_keep: list[Any] = []
RET_NIL: Any = None
_RET_BOOL: dict[bool, Any] = {}
_RET_INT: dict[int, Any] = {}


def bind(ffi_: Any, lib_: Any) -> None:
    global ffi, lib, RET_NIL
    ffi, lib = ffi_, lib_
    p = ffi.new("godot_variant *")
    lib.gdb_variant_new_nil(p)
    _keep.append(p)
    RET_NIL = p[0]
    for b in (False, True):
        p = ffi.new("godot_variant *")
        lib.gdb_variant_new_bool(p, b)
        _keep.append(p)
        _RET_BOOL[b] = p[0]
    for i in range(-64, 257):
        p = ffi.new("godot_variant *")
        lib.gdb_variant_new_int(p, i)
        _keep.append(p)
        _RET_INT[i] = p[0]


class PoolStringList(list[str]):
    """A PoolStringArray as a Python list; converts back to a PoolStringArray."""

    __slots__ = ()


class VariantBox:
    """Owns one engine variant; ``take()`` hands it over (for returning)."""

    __slots__ = ("_p",)

    def __init__(self, p: Any) -> None:
        self._p = p  # godot_variant *, initialised

    def take(self) -> Any:
        p, self._p = self._p, None
        if p is None:
            raise ValueError("variant already handed over")
        return p[0]

    def write_copy(self, dest: Any) -> None:
        if self._p is None:
            raise ValueError("variant already handed over")
        lib.gdb_variant_new_copy(dest, self._p)

    def __del__(self) -> None:
        if self._p is not None and lib is not None:
            lib.gdb_variant_destroy(self._p)


# --- String ---------------------------------------------------------------


def string_to_py(sp: Any) -> str:
    n = lib.gdb_string_length(sp)
    if n <= 0:
        return ""
    try:
        return ffi.unpack(lib.gdb_string_wide_str(sp), n)  # type: ignore[no-any-return]
    except ValueError:  # a code point Python refuses (beyond U+10FFFF): go through UTF-8
        cs = lib.gdb_string_utf8(sp)
        csp = ffi.addressof(cs)
        try:
            raw = ffi.unpack(lib.gdb_char_string_get_data(csp), lib.gdb_char_string_length(csp))
            return raw.decode("utf-8", "replace")  # type: ignore[no-any-return]
        finally:
            lib.gdb_char_string_destroy(csp)


def new_string(sp: Any, text: str) -> None:
    """Initialise the godot_string at ``sp`` (caller destroys it)."""
    if text:
        lib.gdb_string_new_with_wide_string(sp, text, len(text))
    else:
        lib.gdb_string_new(sp)


def _str_var(vp: Any) -> str:
    s = lib.gdb_variant_as_string(vp)
    sp = ffi.addressof(s)
    try:
        return string_to_py(sp)
    finally:
        lib.gdb_string_destroy(sp)


def write_str(vp: Any, text: str) -> None:
    s = ffi.new("godot_string *")
    new_string(s, text)
    lib.gdb_variant_new_string(vp, s)
    lib.gdb_string_destroy(s)


# --- PoolByteArray ----------------------------------------------------------


def _pba_var(vp: Any) -> bytes:
    io = ffi.new("gdb_pba_io *")
    ptr = lib.gdb_pba_read_open(io, vp)
    try:
        return ffi.buffer(ptr, io.size)[:] if io.size > 0 else b""
    finally:
        lib.gdb_pba_read_close(io)


def pool_bytes_view(vp: Any) -> memoryview:
    """A read-only view of a PoolByteArray argument's memory, without a copy.

    The view holds its own reference to the array and a read lock; both are
    released when the last view or slice of it is gone (ffi.gc on the pointer
    the buffer keeps). A script writing to its array meanwhile gets a
    copy-on-write copy, so the view never changes under the reader.
    """
    io = ffi.new("gdb_pba_io *")
    ptr = lib.gdb_pba_read_open(io, vp)
    if io.size <= 0:
        lib.gdb_pba_read_close(io)
        return memoryview(b"")

    def close(_: Any, io: Any = io) -> None:
        if lib is not None:
            lib.gdb_pba_read_close(io)

    owner = ffi.gc(ffi.cast("uint8_t *", ptr), close)
    return memoryview(ffi.buffer(owner, io.size)).toreadonly()


def write_bytes(vp: Any, data: bytes | bytearray | memoryview) -> None:
    if isinstance(data, bytes):
        lib.gdb_variant_new_bytes(vp, data, len(data))
        return
    view = memoryview(data).cast("B") if isinstance(data, memoryview) else data
    lib.gdb_variant_new_bytes(vp, ffi.from_buffer(view), len(view))


def fill_pool_byte_array(size: int, fill: Callable[[memoryview], int]) -> VariantBox:
    """Build a PoolByteArray by letting ``fill`` write straight into engine memory.

    ``fill(view)`` gets a writable memoryview of ``size`` bytes and returns how
    many it wrote; the array is then shrunk to that. No intermediate bytes.
    """
    io = ffi.new("gdb_pba_io *")
    vp = ffi.new("godot_variant *")
    ptr = lib.gdb_pba_write_open(io, size)
    written = 0
    try:
        if io.size:
            # Released before the memory goes back: a view kept by mistake cannot write into it.
            with memoryview(ffi.buffer(ptr, io.size)) as view:
                written = max(0, min(io.size, int(fill(view))))
    finally:
        lib.gdb_pba_write_close(io, vp, written)
    return VariantBox(vp)


# --- PoolStringArray --------------------------------------------------------


def _psa_var(vp: Any) -> list[str]:
    a = lib.gdb_variant_as_pool_string_array(vp)
    ap = ffi.addressof(a)
    try:
        out = PoolStringList()
        for i in range(lib.gdb_pool_string_array_size(ap)):
            s = lib.gdb_pool_string_array_get(ap, i)
            sp = ffi.addressof(s)
            try:
                out.append(string_to_py(sp))
            finally:
                lib.gdb_string_destroy(sp)
        return out
    finally:
        lib.gdb_pool_string_array_destroy(ap)


def write_str_list(vp: Any, items: list[str] | tuple[str, ...]) -> None:
    a = ffi.new("godot_pool_string_array *")
    lib.gdb_pool_string_array_new(a)
    s = ffi.new("godot_string *")
    try:
        for item in items:
            if not isinstance(item, str):
                raise TypeError(f"PoolStringArray item must be str, not {type(item).__name__}")
            new_string(s, item)
            lib.gdb_pool_string_array_append(a, s)
            lib.gdb_string_destroy(s)
        lib.gdb_variant_new_pool_string_array(vp, a)
    finally:
        lib.gdb_pool_string_array_destroy(a)


# --- Array / Dictionary -----------------------------------------------------


def _array_items(ap: Any) -> list[Any]:
    return [to_py(lib.gdb_array_operator_index_const(ap, i)) for i in range(lib.gdb_array_size(ap))]


def _array_var(vp: Any) -> list[Any]:
    a = lib.gdb_variant_as_array(vp)
    ap = ffi.addressof(a)
    try:
        return _array_items(ap)
    finally:
        lib.gdb_array_destroy(ap)


def write_list(vp: Any, items: list[Any] | tuple[Any, ...]) -> None:
    a = ffi.new("godot_array *")
    lib.gdb_array_new(a)
    tmp = ffi.new("godot_variant *")
    try:
        for item in items:
            write(tmp, item)
            lib.gdb_array_append(a, tmp)
            lib.gdb_variant_destroy(tmp)
        lib.gdb_variant_new_array(vp, a)
    finally:
        lib.gdb_array_destroy(a)


def _dict_var(vp: Any) -> dict[Any, Any]:
    d = lib.gdb_variant_as_dictionary(vp)
    dp = ffi.addressof(d)
    try:
        keys = lib.gdb_dictionary_keys(dp)
        kp = ffi.addressof(keys)
        try:
            out = {}
            for i in range(lib.gdb_array_size(kp)):
                key = lib.gdb_array_operator_index_const(kp, i)
                value = to_py(lib.gdb_dictionary_operator_index_const(dp, key))
                out[_hashable(to_py(key))] = value
            return out
        finally:
            lib.gdb_array_destroy(kp)
    finally:
        lib.gdb_dictionary_destroy(dp)


def _hashable(key: Any) -> Any:
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    if isinstance(key, dict):
        return tuple((k, _hashable(v)) for k, v in key.items())
    return key


def write_dict(vp: Any, mapping: dict[Any, Any]) -> None:
    d = ffi.new("godot_dictionary *")
    lib.gdb_dictionary_new(d)
    k = ffi.new("godot_variant *")
    v = ffi.new("godot_variant *")
    try:
        for key, value in mapping.items():
            write(k, key)
            try:
                write(v, value)
            except BaseException:
                lib.gdb_variant_destroy(k)
                raise
            lib.gdb_dictionary_set(d, k, v)
            lib.gdb_variant_destroy(k)
            lib.gdb_variant_destroy(v)
        lib.gdb_variant_new_dictionary(vp, d)
    finally:
        lib.gdb_dictionary_destroy(d)


# --- Object -----------------------------------------------------------------


def _object_var(vp: Any) -> Any:
    from gdhttp.gdnative.objects import GodotObject

    ptr = lib.gdb_variant_as_object(vp)
    if ptr == ffi.NULL:
        return None
    # Keep a variant copy: for a Reference it holds a ref, so the object stays alive.
    keep = ffi.new("godot_variant *")
    lib.gdb_variant_new_copy(keep, vp)
    return GodotObject(ptr, keep)


def _opaque_var(vp: Any) -> VariantBox:
    p = ffi.new("godot_variant *")
    lib.gdb_variant_new_copy(p, vp)
    return VariantBox(p)


# --- dispatch ---------------------------------------------------------------

_TO_PY: list[Callable[[Any], Any]] = [_opaque_var] * 27
_TO_PY[NIL] = lambda vp: None
_TO_PY[BOOL] = lambda vp: bool(lib.gdb_variant_as_bool(vp))
_TO_PY[INT] = lambda vp: lib.gdb_variant_as_int(vp)
_TO_PY[REAL] = lambda vp: lib.gdb_variant_as_real(vp)
_TO_PY[STRING] = _str_var
_TO_PY[OBJECT] = _object_var
_TO_PY[DICTIONARY] = _dict_var
_TO_PY[ARRAY] = _array_var
_TO_PY[POOL_BYTE_ARRAY] = _pba_var
_TO_PY[POOL_STRING_ARRAY] = _psa_var


def to_py(vp: Any) -> Any:
    """Python value of a (borrowed) ``godot_variant *``."""
    return _TO_PY[lib.gdb_variant_get_type(vp)](vp)


def write(vp: Any, value: Any) -> None:
    """Initialise the variant at ``vp`` from a Python value (caller destroys it)."""
    if value is None:
        lib.gdb_variant_new_nil(vp)
    elif value is True or value is False:
        lib.gdb_variant_new_bool(vp, value)
    elif isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise OverflowError(f"int {value} does not fit a Godot int (64 bit)")
        lib.gdb_variant_new_int(vp, value)
    elif isinstance(value, float):
        lib.gdb_variant_new_real(vp, value)
    elif isinstance(value, str):
        write_str(vp, value)
    elif isinstance(value, bytes | bytearray | memoryview):
        write_bytes(vp, value)
    elif type(value) is PoolStringList:
        write_str_list(vp, value)
    elif isinstance(value, list | tuple):
        write_list(vp, value)
    elif isinstance(value, dict):
        write_dict(vp, value)
    elif isinstance(value, VariantBox):
        value.write_copy(vp)
    else:
        obj = getattr(value, "gd_object_ptr", None)
        if obj is None:
            owner = getattr(value, "owner", None)  # an @exposed instance
            obj = getattr(owner, "gd_object_ptr", None)
        if obj is None:
            raise TypeError(f"cannot convert {type(value).__name__} to a Godot Variant")
        lib.gdb_variant_new_object(vp, obj)


def ret_any(value: Any) -> Any:
    """A ``godot_variant`` struct to return to Godot (Godot destroys it)."""
    if value is None:
        return RET_NIL
    if value is True or value is False:
        return _RET_BOOL[value]
    if type(value) is int or isinstance(value, int):
        cached = _RET_INT.get(value)
        if cached is not None:
            return cached
    if isinstance(value, VariantBox):
        return value.take()
    p = ffi.new("godot_variant *")
    write(p, value)
    return p[0]


def ret_int(value: Any) -> Any:
    cached = _RET_INT.get(value)
    if cached is not None:
        return cached
    if not isinstance(value, int):
        raise TypeError(f"expected int return, got {type(value).__name__}")
    return ret_any(int(value))


def ret_bool(value: Any) -> Any:
    return _RET_BOOL[bool(value)]


def _ret_with(writer: Callable[[Any, Any], None]) -> Callable[[Any], Any]:
    def ret(value: Any) -> Any:
        if isinstance(value, VariantBox):
            return value.take()
        p = ffi.new("godot_variant *")
        writer(p, value)
        return p[0]

    return ret


def _ret_real(value: Any) -> Any:
    p = ffi.new("godot_variant *")
    lib.gdb_variant_new_real(p, float(value))
    return p[0]


def returner(vtype: VariantType) -> Callable[[Any], Any]:
    """The return converter for a declared return type."""
    if vtype == VariantType.INT:
        return ret_int
    if vtype == VariantType.BOOL:
        return ret_bool
    if vtype == VariantType.REAL:
        return _ret_real
    if vtype == VariantType.NIL:
        return lambda value: RET_NIL
    if vtype == VariantType.POOL_STRING_ARRAY:
        return _ret_with(write_str_list)
    if vtype == VariantType.POOL_BYTE_ARRAY:
        return _ret_with(write_bytes)
    return ret_any


# --- typed argument readers (used for method arguments and property sets) ---


class ArgTypeError(TypeError):
    pass


_TYPE_NAMES = {
    0: "null", 1: "bool", 2: "int", 3: "float", 4: "String", 5: "Vector2", 15: "NodePath",
    17: "Object", 18: "Dictionary", 19: "Array", 20: "PoolByteArray", 23: "PoolStringArray",
    -1: "Variant",
}  # fmt: skip


def type_name(t: int) -> str:
    return _TYPE_NAMES.get(t, f"type {t}")


def reader(vtype: VariantType, nullable: bool, view: bool = False) -> Callable[[Any], Any]:
    """A function reading a borrowed variant as ``vtype``, with Godot-like coercions.

    int<->float and bool<->int convert (as the engine's own bindings do);
    Array converts to PoolStringArray/PoolByteArray when its items fit;
    null is accepted only where the annotation allows None.
    """
    want = int(vtype)
    if want == VariantType.ANY:
        return to_py
    get_type = lib.gdb_variant_get_type
    exact = _TO_PY[want]
    if want == POOL_BYTE_ARRAY and view:
        exact = pool_bytes_view
    if want == INT:  # the common case gets the engine call directly
        exact = lib.gdb_variant_as_int

    def read(vp: Any) -> Any:
        t = get_type(vp)
        if t == want:
            return exact(vp)
        if t == NIL and nullable:
            return None
        if want == INT and t in (BOOL, REAL):
            return lib.gdb_variant_as_int(vp)
        if want == REAL and t in (BOOL, INT):
            return lib.gdb_variant_as_real(vp)
        if want == BOOL and t in (INT, REAL):
            return bool(lib.gdb_variant_as_bool(vp))
        if want == POOL_STRING_ARRAY and t == ARRAY:
            items = _array_var(vp)
            if all(isinstance(i, str) for i in items):
                return items
        if want == POOL_BYTE_ARRAY and t == ARRAY:
            items = _array_var(vp)
            if all(isinstance(i, int) and 0 <= i <= 255 for i in items):
                return bytes(items)
        if want == ARRAY and t in (POOL_BYTE_ARRAY, POOL_STRING_ARRAY):
            return list(_TO_PY[t](vp))
        raise ArgTypeError(f"expected {type_name(want)}, got {type_name(t)}")

    return read
