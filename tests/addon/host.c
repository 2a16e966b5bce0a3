/* A stand-in engine for tests/test_addon_runtime.py: loads libgdhttp.so the way Godot
 * does (dlopen, RTLD_NOW, local scope) and calls its entry points with a GDNative
 * API of the version given on the command line, to see an unsupported API refused.
 *
 *   host LIB MAJOR WITH_1_1 WITH_NATIVESCRIPT
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct api {
    unsigned int type;
    struct { unsigned int major, minor; } version;
    const struct api *next;
    unsigned int num_extensions;          /* core only */
    const struct api **extensions;        /* core only */
} api;

typedef struct {
    uint8_t in_editor;
    uint64_t core_api_hash, editor_api_hash, no_api_hash;
    void *report_version_mismatch, *report_loading_error, *gd_native_library;
    const api *api_struct;
    const void *active_library_path;
} init_options;

int main(int argc, char **argv) {
    void *lib;
    void (*init)(init_options *), (*ns_init)(void *), (*term)(void *);
    api core11 = {0, {1, 1}, NULL, 0, NULL}, ns = {1, {1, 0}, NULL, 0, NULL};
    const api *exts[1] = {&ns};
    api core = {0, {0, 0}, NULL, 0, exts};
    init_options o;
    if (argc != 5) return 2;
    lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) { printf("DLOPEN FAILED %s\n", dlerror()); return 3; }
    init = (void (*)(init_options *))dlsym(lib, "godot_gdnative_init");
    ns_init = (void (*)(void *))dlsym(lib, "godot_nativescript_init");
    term = (void (*)(void *))dlsym(lib, "godot_gdnative_terminate");
    if (!init || !ns_init || !term) { printf("SYMBOLS MISSING\n"); return 4; }
    core.version.major = (unsigned)atoi(argv[2]);
    core.next = atoi(argv[3]) ? &core11 : NULL;
    core.num_extensions = atoi(argv[4]) ? 1 : 0;
    memset(&o, 0, sizeof o);
    o.api_struct = &core;
    init(&o);
    ns_init(NULL);  /* must not enter Python after a refusal */
    term(&o);
    printf("HOST DONE\n");
    fflush(stdout);
    return 0;
}
