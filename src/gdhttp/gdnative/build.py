"""Build ``addons/gdhttp/bin/libgdhttp.so`` with cffi's embedding mode.

Run as ``python -m gdhttp.gdnative.build [--force]`` (``make build`` does).
The library links the running interpreter's shared libpython; the paths the
embedded interpreter needs (its home, the venv's site-packages, our ``src/``)
are taken from this interpreter and baked in. A rebuild happens only when this
file, ``cdefs.py`` or the baked paths changed.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import sys
import sysconfig
import tempfile
from pathlib import Path

from gdhttp.gdnative import cdefs

MODULE = "_gdhttp_bridge"
HERE = Path(__file__).resolve().parent
SRC = HERE.parent.parent
REPO = SRC.parent
OUT = REPO / "addons" / "gdhttp" / "bin" / "libgdhttp.so"


def _c_string(text: str) -> str:
    # Octal escapes keep any byte of a path valid inside a C literal.
    return '"' + "".join(f"\\{b:03o}" for b in text.encode()) + '"'


def _config() -> dict[str, str]:
    site_packages = next(
        (p for p in site.getsitepackages() if p.startswith(sys.prefix)), site.getsitepackages()[0]
    )
    return {
        "python_home": sys.base_prefix,
        "site_packages": site_packages,
        "src": str(SRC),
        "libdir": str(sysconfig.get_config_var("LIBDIR")),
        "version": sys.version,
    }


def c_source(cfg: dict[str, str]) -> str:
    return (
        "#include <dlfcn.h>\n#include <stdlib.h>\n#include <string.h>\n#include <stdio.h>\n"
        "#include <stdint.h>\n#include <stdbool.h>\n#include <wchar.h>\n"
        + cdefs.TYPES
        + f"""
static const char GDB_PYTHONHOME[] = {_c_string(cfg["python_home"])};
static const char GDB_SITE[] = {_c_string(cfg["site_packages"])};
static int gdb_env_flags_value;
static char *gdb_saved_pythonpath;

/* Runs at dlopen time, before cffi starts Python on the first exported call. */
__attribute__((constructor)) static void gdb_on_load(void) {{
    Dl_info info;
    const char *old;
    char *value;
    size_t n;
    /* Godot opens us with dlopen(RTLD_NOW), i.e. local scope: extension modules
       (_cffi_backend, _socket, _ssl) would not see libpython's symbols. Re-opening
       ourselves with RTLD_GLOBAL promotes our dependencies, libpython included.
       The extra reference is never dropped: CPython cannot be unloaded. */
    if (dladdr((void *)&gdb_on_load, &info) && info.dli_fname)
        (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
    /* Without a home, CPython derives its prefix from whatever python3 is on PATH
       and may pick another installation's stdlib. */
    if (!getenv("PYTHONHOME")) {{
        setenv("PYTHONHOME", GDB_PYTHONHOME, 0);
        gdb_env_flags_value |= 1;
    }}
    /* cffi imports _cffi_backend before our init code runs, so the venv's
       site-packages must be on the path from the start. */
    old = getenv("PYTHONPATH");
    gdb_saved_pythonpath = old ? strdup(old) : NULL;
    n = strlen(GDB_SITE) + (old ? strlen(old) : 0) + 2;
    value = malloc(n);
    if (value) {{
        if (old && *old) snprintf(value, n, "%s:%s", GDB_SITE, old);
        else snprintf(value, n, "%s", GDB_SITE);
        setenv("PYTHONPATH", value, 1);
        free(value);
        gdb_env_flags_value |= 2;
    }}
}}

int gdb_env_flags(void) {{ return gdb_env_flags_value; }}
const char *gdb_original_pythonpath(void) {{ return gdb_saved_pythonpath; }}

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


def init_code(cfg: dict[str, str]) -> str:
    return f"""
import sys, site
# Python is never finalized inside Godot, so buffered output could be lost.
sys.stdout.reconfigure(line_buffering=True)
site.addsitedir({cfg["site_packages"]!r})
if {cfg["src"]!r} not in sys.path:
    sys.path.insert(0, {cfg["src"]!r})
from {MODULE} import ffi, lib
from gdhttp.gdnative import _entry
_entry.attach(ffi, lib)
"""


def _stamp_path() -> Path:
    return OUT.with_name(OUT.name + ".json")


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


def build(force: bool = False) -> Path:
    import cffi

    cfg = _config()
    if not force and up_to_date(cfg):
        print(f"build: {OUT.relative_to(REPO)} is up to date")
        return OUT
    ffibuilder = cffi.FFI()
    ffibuilder.cdef(cdefs.TYPES + cdefs.CALLBACKS + cdefs.wrapper_decls())
    ffibuilder.embedding_api(cdefs.EXPORTS)
    ffibuilder.set_source(
        MODULE,
        c_source(cfg),
        extra_compile_args=["-O2"],
        extra_link_args=[f"-Wl,-rpath,{cfg['libdir']}"],
    )
    ffibuilder.embedding_init_code(init_code(cfg))
    workdir = HERE / "_build"
    workdir.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        built = Path(ffibuilder.compile(tmpdir=tmp, target="libgdhttp.*", verbose=False))
        OUT.parent.mkdir(parents=True, exist_ok=True)
        staged = OUT.with_name(OUT.name + ".tmp")
        shutil.copyfile(built, staged)
        # A new inode: an engine that has the old file mapped keeps working.
        os.replace(staged, OUT)
    _stamp_path().write_text(json.dumps(cfg, indent=1))
    print(f"build: wrote {OUT.relative_to(REPO)}")
    return OUT


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    build(force="--force" in args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
