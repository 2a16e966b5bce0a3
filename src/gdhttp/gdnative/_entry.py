"""What the engine calls: the exported entry points and the NativeScript callbacks.

This module is the bridge's single error boundary. Every callback runs its
work inside one ``try``; any Python exception is printed (with traceback)
through Godot's error output and turned into a defined fallback: nil, or an
``Error`` code for methods annotated to return one. Nothing raises into the
engine.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Any

from gdhttp.gdnative import objects, registry, variant

ffi: Any = None
lib: Any = None
bound = False  # the API tables were found and are compatible

_BIND_ERRORS = {
    1: "no GDNative API struct was passed to godot_gdnative_init",
    2: "the engine's core API is not version 1.x",
    3: "the engine lacks core API 1.1 (Godot 3.1 or newer is required)",
    4: "the engine lacks the NativeScript 1.x extension",
}


def report(text: str, where: str = "gdhttp", file: str = "python", line: int = 0) -> None:
    """Print an error through the engine (stderr if the engine is not bound)."""
    if bound:
        lib.gdb_print_error(text.encode("utf-8", "replace"), where.encode(), file.encode(), line)
    else:
        os.write(2, f"ERROR: {where}: {text}\n".encode("utf-8", "replace"))


# Frames are matched by the file names tracebacks show (code objects'
# co_filename): in the addon's bundle those name entries of gdhttp.zip and
# python311.zip, not the __file__ paths.
_HERE = os.path.dirname(report.__code__.co_filename)
_PACKAGE = os.path.dirname(_HERE)
_LOGGING = os.path.dirname(logging.getLogger.__code__.co_filename)
_FROM_SCRIPT = "called from a script"
_METHOD_CODE: Any = None  # the code of attach()'s _method: a script's call into Python


def _caller() -> tuple[str, str, int]:
    """(function, file, line) of the refused call: the first frame outside gdhttp, else
    the engine method a script called."""
    frame = sys._getframe(1)
    method = "gdhttp"
    while frame is not None:
        code = frame.f_code
        if not code.co_filename.startswith((_PACKAGE, _LOGGING)):
            return code.co_name, code.co_filename, frame.f_lineno
        if code is _METHOD_CODE:
            # The bridge's entry for the script's call: read its spec only now, at a
            # refusal, so the per-call hot path carries no bookkeeping for this.
            method = getattr(frame.f_locals.get("spec"), "qualname", method)
        frame = frame.f_back  # type: ignore[assignment]
    return method, _FROM_SCRIPT, 0


class _GodotLogHandler(logging.Handler):
    """gdhttp's warnings (refused calls) printed like the engine's ERR_FAIL messages."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            report(record.getMessage(), *_caller())
        except Exception:
            self.handleError(record)


def _route_logging() -> None:
    logger = logging.getLogger("gdhttp")
    if not any(isinstance(h, _GodotLogHandler) for h in logger.handlers):
        logger.addHandler(_GodotLogHandler(logging.WARNING))


def _failed(where: str, exc: BaseException) -> None:
    # Drop the bridge's own frames: the user wants to see their code.
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_HERE)
    ]
    if not frames and isinstance(exc, registry.BridgeCallError | objects.GodotCallError):
        # A caller mistake caught by the bridge: the message says it all.
        report(str(exc), where, _FROM_SCRIPT, 0)
        return
    text = "".join(traceback.format_list(frames)) + "".join(traceback.format_exception_only(exc))
    last = frames[-1] if frames else None
    report(
        "Python exception\n" + text.rstrip(),
        where,
        last.filename if last else "python",
        (last.lineno or 0) if last else 0,
    )


def attach(ffi_: Any, lib_: Any) -> None:
    """Called once by the library's init code, right after Python started."""
    global ffi, lib
    ffi, lib = ffi_, lib_
    registry.ffi, registry.lib = ffi, lib
    from_handle = ffi.from_handle
    ret_nil = variant.ret_any

    def _init(options: Any) -> None:
        global bound
        try:
            code = lib.gdb_bind(options)
            if code:
                report(f"gdhttp bridge disabled: {_BIND_ERRORS.get(code, code)}", "gdnative_init")
                return
            bound = True
            variant.bind(ffi, lib)
            objects.bind(ffi, lib)
            _route_logging()
        except BaseException as exc:
            bound = False
            _failed("gdnative_init", exc)

    def _terminate(options: Any) -> None:
        pass  # Python stays initialised: CPython cannot be finalised and restarted safely.

    def _ns_init(handle: Any) -> None:
        if not bound:
            return
        try:
            registry.import_modules(report)
            registry.register_all(handle, report)
        except BaseException as exc:
            _failed("nativescript_init", exc)

    def _ns_terminate(handle: Any) -> None:
        pass

    def _create(owner: Any, method_data: Any) -> Any:
        spec = from_handle(method_data)
        try:
            return registry.keep_instance(spec.instantiate(owner))
        except BaseException as exc:
            _failed(f"{spec.name}.new", exc)
            return ffi.NULL

    def _destroy(owner: Any, method_data: Any, user_data: Any) -> None:
        try:
            inst = registry.drop_instance(user_data)
            hook = getattr(inst, "_destroy", None)
            if hook is not None:
                hook()
        except BaseException as exc:
            _failed("destroy", exc)

    def _method(owner: Any, method_data: Any, user_data: Any, argc: int, argv: Any) -> Any:
        spec = from_handle(method_data)
        try:
            return spec.invoke(from_handle(user_data), argc, argv)
        except registry.BridgeCallError as exc:
            _failed(spec.qualname, exc)
            _tell_instance(user_data, exc)
            return ret_nil(spec.args_fallback)
        except BaseException as exc:
            _failed(spec.qualname, exc)
            return ret_nil(spec.error_fallback)

    global _METHOD_CODE
    _METHOD_CODE = _method.__code__

    def _get(owner: Any, method_data: Any, user_data: Any) -> Any:
        spec = from_handle(method_data)
        try:
            return spec.get(from_handle(user_data))
        except BaseException as exc:
            _failed(spec.qualname, exc)
            return variant.RET_NIL

    def _set(owner: Any, method_data: Any, user_data: Any, value: Any) -> None:
        spec = from_handle(method_data)
        try:
            spec.set(from_handle(user_data), value)
        except registry.BridgeCallError as exc:
            _failed(spec.qualname, exc)
            _tell_instance(user_data, exc)
        except BaseException as exc:
            _failed(spec.qualname, exc)

    def _tell_instance(user_data: Any, exc: BaseException) -> None:
        # A class may want the bridge's refusals (wrong arity or types) for its own
        # error reporting: get_error_message() must not be empty after one.
        try:
            hook = getattr(from_handle(user_data), "_bridge_refused", None)
            if hook is not None:
                hook(str(exc))
        except BaseException as inner:
            _failed("_bridge_refused", inner)

    # cffi binds each exported symbol or callback to its Python function by name.
    for symbol, func in (
        ("gdb_py_gdnative_init", _init),
        ("gdb_py_gdnative_terminate", _terminate),
        ("gdb_py_nativescript_init", _ns_init),
        ("gdb_py_nativescript_terminate", _ns_terminate),
        ("gdb_py_create", _create),
        ("gdb_py_destroy", _destroy),
        ("gdb_py_method", _method),
        ("gdb_py_get", _get),
        ("gdb_py_set", _set),
    ):
        ffi.def_extern(name=symbol)(func)
    lib.gdb_mark_attached()  # the C entry points may now call into Python
