"""Proxies for engine objects: dynamic method calls through ``Object.call``.

``obj.call("emit_signal", "done", 1)`` and ``obj.emit_signal("done", 1)`` are
the same call. Every call goes through the engine's own ``Object.call``, so it
reaches native methods, GDScript methods and our NativeScript methods alike
(``get_node``, ``set_process``, ``call_deferred``, ``emit_signal``...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gdhttp.gdnative import variant

ffi: Any = None
lib: Any = None
_MB_CALL: Any = None

_CALL_ERRORS = {
    1: "no such method",
    2: "invalid argument",
    3: "too many arguments",
    4: "too few arguments",
    5: "instance is null",
}


class GodotCallError(RuntimeError):
    """An engine call failed (unknown method, bad arguments, freed object)."""


def bind(ffi_: Any, lib_: Any) -> None:
    global ffi, lib, _MB_CALL
    ffi, lib = ffi_, lib_
    _MB_CALL = lib.gdb_method_bind_get_method(b"Object", b"call")


class GodotObject:
    """A handle on an engine object.

    ``keep`` is a variant holding the object: for a Reference it keeps the
    object alive as long as this proxy lives. The owner of an instance we
    created is held without it (a strong ref there would be a cycle).
    """

    __slots__ = ("_keep", "_ptr")

    def __init__(self, ptr: Any, keep: Any = None) -> None:
        self._ptr = ptr
        self._keep = keep

    @property
    def gd_object_ptr(self) -> Any:
        return self._ptr

    def is_valid(self) -> bool:
        return bool(lib.gdb_is_instance_valid(self._ptr))

    def call(self, method: str, *args: Any) -> Any:
        if not lib.gdb_is_instance_valid(self._ptr):
            raise GodotCallError(f"{method}(): the object was freed")
        n = len(args) + 1
        values = ffi.new("godot_variant[]", n)
        ptrs = ffi.new("godot_variant *[]", n)
        written = 0
        try:
            variant.write_str(values, method)
            ptrs[0] = values
            written = 1
            for i, arg in enumerate(args, 1):
                variant.write(values + i, arg)
                ptrs[i] = values + i
                written += 1
            err = ffi.new("godot_variant_call_error *")
            ret = lib.gdb_method_bind_call(_MB_CALL, self._ptr, ptrs, n, err)
        finally:
            for i in range(written):
                lib.gdb_variant_destroy(values + i)
        rp = ffi.addressof(ret)
        try:
            if err.error:
                reason = _CALL_ERRORS.get(err.error, f"call error {err.error}")
                if err.error == 2:
                    reason += f" #{err.argument} (expected {variant.type_name(err.expected)})"
                raise GodotCallError(f"{method}(): {reason}")
            return variant.to_py(rp)
        finally:
            lib.gdb_variant_destroy(rp)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)

        def method(*args: Any) -> Any:
            return self.call(name, *args)

        method.__name__ = name
        return method

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GodotObject) and self._ptr == other._ptr

    def __hash__(self) -> int:
        return hash(int(ffi.cast("uintptr_t", self._ptr)))

    def __repr__(self) -> str:
        return f"<GodotObject {int(ffi.cast('uintptr_t', self._ptr)):#x}>"

    def __del__(self) -> None:
        if self._keep is not None and lib is not None:
            lib.gdb_variant_destroy(self._keep)
            self._keep = None


def singleton(name: str) -> GodotObject:
    """An engine singleton (``OS``, ``Engine``, ``ProjectSettings``...)."""
    ptr = lib.gdb_global_get_singleton(name.encode())
    if ptr == ffi.NULL:
        raise GodotCallError(f"no singleton named {name!r}")
    return GodotObject(ptr)
