"""NativeScript registration and per-call dispatch for ``@exposed`` classes.

Specs built here are what the C callbacks receive as ``method_data``; the
invokers are specialised closures so a call does as little Python as possible.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any, cast

from gdhttp.gdnative import engine_files, tags, variant
from gdhttp.gdnative.objects import GodotObject, singleton
from gdhttp.gdnative.tags import ClassInfo, Export, MethodInfo, VariantType

ffi: Any = None
lib: Any = None

ERR_FAILED = 1
ERR_INVALID_PARAMETER = 31

# The bridge's own classes; user modules come from the project setting below.
BUILTIN_MODULES = ("gdhttp.godot_classes", "gdhttp.godot_request", "gdhttp.godot_session",
                   "gdhttp.godot_eventsource")
MODULES_SETTING = "gdhttp/python/modules"

# cffi handles must outlive every engine reference to them: for the library's life.
_handles: list[Any] = []
_live: dict[int, Any] = {}  # userdata address -> handle, until destroy


class BridgeCallError(Exception):
    """A call Godot made that cannot be served (arity, argument type)."""


class ClassSpec:
    def __init__(self, info: ClassInfo) -> None:
        self.info = info
        self.name = info.name
        self.exports = tuple(info.exports)
        init = cast(Any, info.cls).__init__
        self._init: Callable[[Any], None] | None = None if init is object.__init__ else init

    def instantiate(self, owner: Any) -> Any:
        cls: Any = self.info.cls
        inst = cls.__new__(cls)
        inst.owner = GodotObject(owner)
        for exp in self.exports:
            exp.init_instance(inst)
        if self._init is not None:
            self._init(inst)
        return inst


class MethodSpec:
    """What Godot calls: ``invoke(instance, argc, argv) -> godot_variant``."""

    def __init__(self, class_name: str, info: MethodInfo) -> None:
        self.qualname = f"{class_name}.{info.name}"
        self.error_fallback = ERR_FAILED if info.returns_error else None
        self.args_fallback = ERR_INVALID_PARAMETER if info.returns_error else None
        self.invoke = _invoker(self.qualname, info)


def _arity_text(info: MethodInfo) -> str:
    if info.max_args < 0:
        return f"at least {info.min_args}"
    if info.min_args == info.max_args:
        return str(info.min_args)
    return f"{info.min_args} to {info.max_args}"


def _invoker(qualname: str, info: MethodInfo) -> Callable[[Any, int, Any], Any]:
    func = info.func
    ret = variant.returner(info.ret)
    lo, hi = info.min_args, info.max_args
    if hi == 0:
        # The hot path (poll(), get_status()...): no argument handling at all.
        def invoke0(inst: Any, argc: int, argv: Any) -> Any:
            if argc:
                raise BridgeCallError(f"{qualname}() takes no arguments, got {argc}")
            return ret(func(inst))

        return invoke0

    readers = [variant.reader(p.vtype, p.nullable, view=p.view) for p in info.params]
    names = [p.name for p in info.params]
    extra = variant.to_py
    known = len(readers)
    expected = _arity_text(info)

    def invoke(inst: Any, argc: int, argv: Any) -> Any:
        if argc < lo or (hi >= 0 and argc > hi):
            raise BridgeCallError(f"{qualname}() takes {expected} arguments, got {argc}")
        args = []
        i = 0
        try:
            for i in range(argc):
                args.append(readers[i](argv[i]) if i < known else extra(argv[i]))
        except variant.ArgTypeError as exc:
            raise BridgeCallError(f"{qualname}(): argument {i + 1} ({names[i]}): {exc}") from None
        return ret(func(inst, *args))

    return invoke


class PropertySpec:
    def __init__(self, class_name: str, exp: Export) -> None:
        self.qualname = f"{class_name}.{exp.name}"
        self.name = exp.name
        self.read = variant.reader(exp.vtype, exp.nullable)
        self.ret = variant.returner(exp.vtype)

    def get(self, inst: Any) -> Any:
        return self.ret(getattr(inst, self.name))

    def set(self, inst: Any, vp: Any) -> None:
        try:
            value = self.read(vp)
        except variant.ArgTypeError as exc:
            raise BridgeCallError(f"{self.qualname} = ...: {exc}") from None
        setattr(inst, self.name, value)


def new_handle(obj: Any) -> Any:
    h = ffi.new_handle(obj)
    _handles.append(h)
    return h


def keep_instance(inst: Any) -> Any:
    h = ffi.new_handle(inst)
    _live[int(ffi.cast("uintptr_t", h))] = h
    return h


def drop_instance(userdata: Any) -> Any:
    h = _live.pop(int(ffi.cast("uintptr_t", userdata)), None)
    return None if h is None else ffi.from_handle(h)


def live_instances() -> int:
    return len(_live)


def _module_names() -> list[str]:
    """Built-in modules plus the project's ``gdhttp/python/modules`` setting."""
    names = list(BUILTIN_MODULES)
    settings = singleton("ProjectSettings")
    root = settings.globalize_path("res://")
    if isinstance(root, str) and os.path.isabs(root) and root not in sys.path:
        sys.path.insert(0, root)  # user modules live in the project folder...
    engine_files.install_finder()  # ...or inside the .pck of an exported game
    if settings.has_setting(MODULES_SETTING):
        extra = settings.get_setting(MODULES_SETTING)
        if isinstance(extra, str):
            extra = [extra]
        names.extend(str(n) for n in extra or [])
    return names


def import_modules(report: Callable[[str], None]) -> None:
    """Import the modules to register; each one's ``engine_init()``, if any, runs once.

    ``engine_init`` is where a module wires itself to the running engine: its
    import alone must stay engine-free, so tests and tools can import it.
    """
    for name in _module_names():
        try:
            module = importlib.import_module(name)
            init = getattr(module, "engine_init", None)
            if callable(init):
                init()
        except Exception as exc:
            report(f"gdhttp bridge: cannot import Python module {name!r}: {exc!r}")


def register_all(handle: Any, report: Callable[[str], None]) -> None:
    seen: set[str] = set()
    for info in tags.REGISTRY:
        if info.name in seen:
            report(f"gdhttp bridge: class {info.name} is exposed twice; second one ignored")
            continue
        seen.add(info.name)
        _register_class(handle, info)


def _register_class(handle: Any, info: ClassInfo) -> None:
    cname = info.name.encode()
    spec = ClassSpec(info)
    create = ffi.new("godot_instance_create_func *", [lib.gdb_py_create, new_handle(spec)])
    destroy = ffi.new("godot_instance_destroy_func *", [lib.gdb_py_destroy])
    register = (
        lib.gdb_nativescript_register_tool_class
        if info.tool
        else lib.gdb_nativescript_register_class
    )
    register(handle, cname, info.base.encode(), create[0], destroy[0])

    attrs = ffi.new("godot_method_attributes *", [0])
    for m in info.methods:
        ms = MethodSpec(info.name, m)
        method = ffi.new("godot_instance_method *", [lib.gdb_py_method, new_handle(ms)])
        lib.gdb_nativescript_register_method(handle, cname, m.name.encode(), attrs[0], method[0])
        _set_arg_info(handle, cname, m)

    for exp in info.exports:
        ps = new_handle(PropertySpec(info.name, exp))
        attr = ffi.new("godot_property_attributes *")
        attr.type = 0 if exp.vtype == VariantType.ANY else int(exp.vtype)
        attr.hint = exp.hint
        attr.usage = exp.usage
        variant.new_string(ffi.addressof(attr, "hint_string"), exp.hint_string)
        default = exp.default if exp.getter is None or exp.default is not None else None
        variant.write(ffi.addressof(attr, "default_value"), default)
        setter = ffi.new("godot_property_set_func *", [lib.gdb_py_set, ps])
        getter = ffi.new("godot_property_get_func *", [lib.gdb_py_get, ps])
        lib.gdb_nativescript_register_property(
            handle, cname, exp.name.encode(), attr, setter[0], getter[0]
        )
        # register_property copied both; they are still ours to destroy.
        lib.gdb_string_destroy(ffi.addressof(attr, "hint_string"))
        lib.gdb_variant_destroy(ffi.addressof(attr, "default_value"))

    for sig in info.signals:
        _register_signal(handle, cname, sig)


def _register_signal(handle: Any, cname: bytes, sig: tags.Signal) -> None:
    s = ffi.new("godot_signal *")
    args = ffi.new("godot_signal_argument[]", max(1, len(sig.args)))
    variant.new_string(ffi.addressof(s, "name"), sig.name)
    for i, arg_name in enumerate(sig.args):
        a = args + i
        variant.new_string(ffi.addressof(a[0], "name"), arg_name)
        variant.new_string(ffi.addressof(a[0], "hint_string"), "")
        lib.gdb_variant_new_nil(ffi.addressof(a[0], "default_value"))
        a.usage = 7
    s.num_args = len(sig.args)
    s.args = args
    s.num_default_args = 0  # the engine reads defaults from args[] anyway (3.2 quirk)
    lib.gdb_nativescript_register_signal(handle, cname, s)
    for i in range(len(sig.args)):
        a = args + i
        lib.gdb_string_destroy(ffi.addressof(a[0], "name"))
        lib.gdb_string_destroy(ffi.addressof(a[0], "hint_string"))
        lib.gdb_variant_destroy(ffi.addressof(a[0], "default_value"))
    lib.gdb_string_destroy(ffi.addressof(s, "name"))


def _set_arg_info(handle: Any, cname: bytes, m: MethodInfo) -> None:
    # Argument names and types for the editor's docs and error messages (NativeScript 1.1).
    if not lib.gdb_has_table(3) or not m.params:
        return
    n = len(m.params)
    args = ffi.new("godot_method_arg[]", n)
    for i, p in enumerate(m.params):
        variant.new_string(ffi.addressof(args[i], "name"), p.name)
        variant.new_string(ffi.addressof(args[i], "hint_string"), "")
        args[i].type = 0 if p.vtype == VariantType.ANY else int(p.vtype)
    lib.gdb_nativescript_set_method_argument_information(handle, cname, m.name.encode(), n, args)
    for i in range(n):
        lib.gdb_string_destroy(ffi.addressof(args[i], "name"))
        lib.gdb_string_destroy(ffi.addressof(args[i], "hint_string"))
