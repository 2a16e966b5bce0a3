"""Build the self-contained addon runtime in ``addons/gdhttp/bin/``.

Run as ``python -m gdhttp.gdnative.build [--force]`` (``make build`` does).
``libgdhttp.so`` is a cffi-embedded library; its constructor starts the
bundled CPython from the folder it was loaded from (``bundle.py`` assembles
that runtime). Each part is rebuilt only when its inputs changed: the C
library when this file or ``cdefs.py`` did, the runtime when the build
interpreter did, ``gdhttp.zip`` when any packaged source did.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from gdhttp.gdnative import bundle, cdefs

MODULE = "_gdhttp_bridge"
HERE = Path(__file__).resolve().parent
SRC = HERE.parent.parent
REPO = SRC.parent
ADDON = REPO / "addons" / "gdhttp"
OUT = ADDON / "bin" / "libgdhttp.so"
GDNLIB = ADDON / "gdhttp.gdnlib"


def _c_string(text: str) -> str:
    # Octal escapes keep any byte of a path valid inside a C literal.
    return '"' + "".join(f"\\{b:03o}" for b in text.encode()) + '"'


def _config() -> dict[str, str]:
    # Nothing of this machine is baked into the library: only what must match.
    return {"version": sys.version, "required": " ".join(bundle.REQUIRED)}


def c_source() -> str:
    required = ", ".join(_c_string(name) for name in bundle.REQUIRED)
    zips = ", ".join(_c_string(name) for name in (bundle.STDLIB_ZIP, bundle.APP_ZIP))
    return (
        "#include <dlfcn.h>\n#include <stdlib.h>\n#include <string.h>\n#include <stdio.h>\n"
        "#include <stdint.h>\n#include <stdbool.h>\n#include <wchar.h>\n#include <unistd.h>\n"
        "#include <limits.h>\n"
        + cdefs.TYPES
        + f"""
static const char *const GDB_REQUIRED[] = {{ {required}, NULL }};
static const char GDB_LIBPYTHON[] = {_c_string(bundle.LIBPYTHON)};
static const char *const GDB_ZIPS[] = {{ {zips}, NULL }};
static char gdb_dir[PATH_MAX];
/* Non-empty: Python was not started (or the engine is unsupported); the one line to print. */
static char gdb_problem[PATH_MAX + 256];
static int gdb_python_ok;
static int gdb_attached;  /* _entry.attach ran: cffi's init code worked */

void gdb_mark_attached(void) {{ gdb_attached = 1; }}

static void gdb_say(void) {{
    fprintf(stderr, "ERROR: gdhttp: %s\\n", gdb_problem);
    fflush(stderr);
}}

static int gdb_append_path(PyConfig *c, const char *name) {{
    char path[PATH_MAX + 64];
    wchar_t *w;
    PyStatus st;
    if (name) snprintf(path, sizeof path, "%s/%s", gdb_dir, name);
    else snprintf(path, sizeof path, "%s", gdb_dir);
    w = Py_DecodeLocale(path, NULL);
    if (!w) return 0;
    st = PyWideStringList_Append(&c->module_search_paths, w);
    PyMem_RawFree(w);
    return !PyStatus_Exception(st);
}}

/* The interpreter is configured from the folder this library was loaded from
   (bin/ in a project, the binary's folder in an export): isolated from the
   environment and from any other Python on the machine. */
static void gdb_start_python(void) {{
    PyPreConfig pre;
    PyConfig c;
    PyStatus st;
    char path[PATH_MAX + 64];
    const char *const *z;
    PyPreConfig_InitIsolatedConfig(&pre);
    pre.utf8_mode = 1;  /* the same text encoding whatever locale the game runs in */
    st = Py_PreInitialize(&pre);
    if (PyStatus_Exception(st)) goto fail;
    PyConfig_InitIsolatedConfig(&c);
    c.site_import = 0;
    c.write_bytecode = 0;
    c.buffered_stdio = 0;  /* Python is never finalized in Godot: nothing may sit in a buffer */
    c.install_signal_handlers = 0;  /* signals belong to the engine */
    c.module_search_paths_set = 1;
    st = PyConfig_SetBytesString(&c, &c.home, gdb_dir);
    /* Without an executable, CPython searches PATH for python3 and reports whichever
       it finds (a venv's, the system's) as sys.executable. The bundle has no
       interpreter binary: name one in the folder that does not exist. */
    snprintf(path, sizeof path, "%s/python%d.%d", gdb_dir, PY_MAJOR_VERSION, PY_MINOR_VERSION);
    if (!PyStatus_Exception(st)) st = PyConfig_SetBytesString(&c, &c.executable, path);
    if (PyStatus_Exception(st)) {{ PyConfig_Clear(&c); goto fail; }}
    for (z = GDB_ZIPS; *z; z++)
        if (!gdb_append_path(&c, *z)) {{ PyConfig_Clear(&c); goto nomem; }}
    if (!gdb_append_path(&c, NULL)) {{ PyConfig_Clear(&c); goto nomem; }}  /* extension modules */
    st = Py_InitializeFromConfig(&c);
    PyConfig_Clear(&c);
    if (PyStatus_Exception(st)) goto fail;
    (void)PyEval_SaveThread();  /* cffi and Godot's threads take the GIL when they call in */
    gdb_python_ok = 1;
    return;
fail:
    snprintf(gdb_problem, sizeof gdb_problem, "the bundled Python did not start (%s: %s)",
             st.func ? st.func : "init", st.err_msg ? st.err_msg : "unknown error");
    return;
nomem:
    snprintf(gdb_problem, sizeof gdb_problem, "the bundled Python did not start (out of memory)");
}}

/* Runs at dlopen time, before cffi's first call would start Python its own way. */
__attribute__((constructor)) static void gdb_on_load(void) {{
    Dl_info info;
    char *real, *slash, path[PATH_MAX + 64];
    const char *const *r;
    if (!dladdr((void *)&gdb_on_load, &info) || !info.dli_fname ||
        !(real = realpath(info.dli_fname, NULL))) {{
        snprintf(gdb_problem, sizeof gdb_problem, "cannot tell where libgdhttp.so was loaded from");
        return;
    }}
    /* Godot opens us with dlopen(RTLD_NOW), i.e. local scope: extension modules
       (_cffi_backend, _socket, _ssl) would not see libpython's symbols. Re-opening
       ourselves with RTLD_GLOBAL promotes our dependencies, libpython included.
       The extra reference is never dropped: CPython cannot be unloaded. */
    (void)dlopen(real, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
    slash = strrchr(real, '/');
    if (slash) *slash = 0;
    snprintf(gdb_dir, sizeof gdb_dir, "%s", real);
    free(real);
    for (r = GDB_REQUIRED; *r; r++) {{
        snprintf(path, sizeof path, "%s/%s", gdb_dir, *r);
        if (access(path, R_OK) != 0) {{
            snprintf(gdb_problem, sizeof gdb_problem,
                     "incomplete Python runtime: %s is missing in %s (reinstall the addon)",
                     *r, gdb_dir);
            return;
        }}
    }}
    /* RUNPATH is $ORIGIN, but a libpython missing here is silently taken from the
       system if one of the same soname exists: only ours matches the runtime. */
    if (dladdr((void *)&Py_InitializeFromConfig, &info) && info.dli_fname &&
        (real = realpath(info.dli_fname, NULL))) {{
        slash = strrchr(real, '/');
        if (slash) *slash = 0;
        if (strcmp(real, gdb_dir) != 0) {{
            snprintf(gdb_problem, sizeof gdb_problem,
                     "incomplete Python runtime: %s is missing in %s (%s/%s was loaded instead)",
                     GDB_LIBPYTHON, gdb_dir, real, GDB_LIBPYTHON);
            free(real);
            return;
        }}
        free(real);
    }}
    if (Py_IsInitialized()) {{
        snprintf(gdb_problem, sizeof gdb_problem,
                 "another Python interpreter already runs in this process");
        return;
    }}
    gdb_start_python();
}}

static void **gdb_tables[4];

int gdb_has_table(int table) {{ return table >= 0 && table < 4 && gdb_tables[table] != NULL; }}

/* Finds the API tables; 0 when everything the bridge needs is there. */
int gdb_bind(const godot_gdnative_init_options *o) {{
    const godot_gdnative_core_api_struct *core;
    const godot_gdnative_api_struct *s;
    unsigned int i;
    memset(gdb_tables, 0, sizeof gdb_tables);
    if (!o || !(core = o->api_struct)) return 1;
    if (core->type != 0 || core->version.major != 1) return 2;
    gdb_tables[0] = (void **)core;
    for (s = core->next; s; s = s->next)
        if (s->version.major == 1 && s->version.minor == 1) gdb_tables[1] = (void **)s;
    if (!gdb_tables[1]) return 3;
    for (i = 0; i < core->num_extensions; i++) {{
        s = core->extensions[i];
        if (!s || s->type != 1 || s->version.major != 1) continue;
        gdb_tables[2] = (void **)s;
        for (s = s->next; s; s = s->next)
            if (s->version.major == 1 && s->version.minor >= 1) gdb_tables[3] = (void **)s;
    }}
    return gdb_tables[2] ? 0 : 4;
}}

static const char *const GDB_BIND_ERRORS[] = {{
    "", "no GDNative API struct was passed to godot_gdnative_init",
    "unsupported GDNative API: the engine's core API is not version 1.x",
    "unsupported GDNative API: core 1.1 is missing (Godot 3.1 or newer is required)",
    "unsupported GDNative API: the NativeScript 1.x extension is missing",
}};

void gdb_py_gdnative_init(godot_gdnative_init_options *options);
void gdb_py_gdnative_terminate(void *options);
void gdb_py_nativescript_init(void *handle);
void gdb_py_nativescript_terminate(void *handle);
#define GDB_EXPORT __attribute__((visibility("default")))

/* The entry points Godot calls. Python is entered only when it started and the
   engine's API fits; otherwise one line says why and no class is registered. */
GDB_EXPORT void godot_gdnative_init(godot_gdnative_init_options *o) {{
    int code = gdb_bind(o);
    if (code) {{
        gdb_python_ok = 0;
        snprintf(gdb_problem, sizeof gdb_problem, "%s", GDB_BIND_ERRORS[code]);
    }}
    if (!gdb_python_ok) {{
        gdb_say();
        return;
    }}
    gdb_py_gdnative_init(o);
    if (!gdb_attached) {{
        /* cffi printed why (a traceback); keep the other entry points out of Python. */
        gdb_python_ok = 0;
        snprintf(gdb_problem, sizeof gdb_problem, "the bridge's Python code did not load");
        gdb_say();
    }}
}}

GDB_EXPORT void godot_gdnative_terminate(void *o) {{
    if (gdb_python_ok) gdb_py_gdnative_terminate(o);
}}
GDB_EXPORT void godot_nativescript_init(void *h) {{
    if (gdb_python_ok) gdb_py_nativescript_init(h);
}}
GDB_EXPORT void godot_nativescript_terminate(void *h) {{
    if (gdb_python_ok) gdb_py_nativescript_terminate(h);
}}
"""
        + cdefs.wrapper_defs()
        + _C_HELPERS
    )


# PoolByteArray in one or two calls instead of five or six from Python: the
# body-read path runs these for every chunk.
_C_HELPERS = r"""
typedef struct {
    godot_pool_byte_array array;
    godot_pool_byte_array_read_access *r;
    godot_pool_byte_array_write_access *w;
    int size;
} gdb_pba_io;

uint8_t *gdb_pba_write_open(gdb_pba_io *io, int size) {
    gdb_pool_byte_array_new(&io->array);
    io->size = size > 0 ? size : 0;
    io->w = NULL;
    if (io->size == 0) return NULL;
    gdb_pool_byte_array_resize(&io->array, io->size);
    io->w = gdb_pool_byte_array_write(&io->array);
    return gdb_pool_byte_array_write_access_ptr(io->w);
}

void gdb_pba_write_close(gdb_pba_io *io, godot_variant *dest, int used) {
    if (io->w) gdb_pool_byte_array_write_access_destroy(io->w);
    io->w = NULL;
    if (used < 0) used = 0;
    if (used != io->size) gdb_pool_byte_array_resize(&io->array, used);
    gdb_variant_new_pool_byte_array(dest, &io->array);
    gdb_pool_byte_array_destroy(&io->array);
}

const uint8_t *gdb_pba_read_open(gdb_pba_io *io, const godot_variant *src) {
    io->array = gdb_variant_as_pool_byte_array(src);
    io->size = gdb_pool_byte_array_size(&io->array);
    io->r = gdb_pool_byte_array_read(&io->array);
    return gdb_pool_byte_array_read_access_ptr(io->r);
}

void gdb_pba_read_close(gdb_pba_io *io) {
    gdb_pool_byte_array_read_access_destroy(io->r);
    gdb_pool_byte_array_destroy(&io->array);
}

void gdb_variant_new_bytes(godot_variant *dest, const char *data, int size) {
    gdb_pba_io io;
    uint8_t *p = gdb_pba_write_open(&io, size);
    if (p) memcpy(p, data, (size_t)size);
    gdb_pba_write_close(&io, dest, size);
}
"""


def init_code() -> str:
    return f"""
from {MODULE} import ffi, lib
from gdhttp.gdnative import _entry
_entry.attach(ffi, lib)
"""


def _stamp_path() -> Path:
    return bundle.STAMPS / "libgdhttp.json"


def up_to_date(cfg: dict[str, str]) -> bool:
    stamp = _stamp_path()
    if not OUT.exists() or not stamp.exists():
        return False
    try:
        if json.loads(stamp.read_text()) != cfg:
            return False
    except ValueError:
        return False
    built = OUT.stat().st_mtime
    return all(p.stat().st_mtime < built for p in (HERE / "build.py", HERE / "cdefs.py"))


def build_library(force: bool = False) -> bool:
    import cffi

    cfg = _config()
    if not force and up_to_date(cfg):
        return False
    ffibuilder = cffi.FFI()
    ffibuilder.cdef(cdefs.TYPES + cdefs.CALLBACKS + cdefs.wrapper_decls())
    ffibuilder.embedding_api(cdefs.EXPORTS)
    ffibuilder.set_source(
        MODULE,
        c_source(),
        extra_compile_args=["-O2"],
        extra_link_args=["-s"],
    )
    ffibuilder.embedding_init_code(init_code())
    bundle.STAMPS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=bundle.STAMPS) as tmp:
        built = Path(ffibuilder.compile(tmpdir=tmp, target="libgdhttp.*", verbose=False))
        OUT.parent.mkdir(parents=True, exist_ok=True)
        staged = OUT.with_name(OUT.name + ".tmp")
        shutil.copyfile(built, staged)
        # cffi puts the build interpreter's LIBDIR in front; only $ORIGIN may remain.
        subprocess.run(["patchelf", "--set-rpath", "$ORIGIN", str(staged)], check=True)
        # A new inode: an engine that has the old file mapped keeps working.
        os.replace(staged, OUT)
    _stamp_path().write_text(json.dumps(cfg, indent=1))
    return True


def runtime_files(force: bool = False) -> list[str]:
    """Every file of bin/ the library needs (the .gdnlib's dependencies)."""
    files = bundle.ensure_runtime(OUT.parent, force)
    bundle.ensure_app_zip(OUT.parent, force)
    return sorted([*files, bundle.APP_ZIP])


def build(force: bool = False) -> Path:
    """Bring addons/gdhttp/bin/ up to date; fast when nothing changed."""
    files = runtime_files(force)
    changed = build_library(force)
    text = bundle.gdnlib_text(files)
    if not GDNLIB.exists() or GDNLIB.read_text() != text:
        GDNLIB.write_text(text)
    print(f"build: {OUT.relative_to(REPO)} {'rebuilt' if changed else 'is up to date'}")
    return OUT


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    build(force="--force" in args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
