"""The decorator vocabulary: ``exposed``, ``export``, ``signal``.

Plain Python, importable without the engine, so classes written with it can
be unit-tested anywhere. When Godot loads the bridge, every ``@exposed`` class
of the imported modules becomes a NativeScript class::

    @exposed(base="Node")
    class Greeter:
        owner: GodotObjectLike          # the engine object, set by the bridge
        greeted = signal("name")
        greeting = export(str, default="hello")

        def greet(self, name: str) -> str:    # public methods are exposed
            self.owner.emit_signal("greeted", name)
            return f"{self.greeting}, {name}"

Argument and return types come from the annotations (see ``vtype_of``).
"""

from __future__ import annotations

import copy
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol, TypeVar, Union

__all__ = [
    "REGISTRY",
    "ClassInfo",
    "Export",
    "GodotObjectLike",
    "MethodInfo",
    "ParamInfo",
    "Signal",
    "VariantType",
    "export",
    "exposed",
    "signal",
    "vtype_of",
]


class VariantType(IntEnum):
    """``godot_variant_type``; ANY (-1) is ours: no check, converted by value."""

    ANY = -1
    NIL = 0
    BOOL = 1
    INT = 2
    REAL = 3
    STRING = 4
    VECTOR2 = 5
    NODE_PATH = 15
    OBJECT = 17
    DICTIONARY = 18
    ARRAY = 19
    POOL_BYTE_ARRAY = 20
    POOL_STRING_ARRAY = 23


class GodotObjectLike(Protocol):
    """What an engine object proxy offers: ``obj.call("m", ...)`` or ``obj.m(...)``."""

    def call(self, method: str, *args: Any) -> Any: ...

    def __getattr__(self, name: str) -> Callable[..., Any]: ...


class PoolByteArrayLike(Protocol):
    """A PoolByteArray already built in engine memory (see ``variant.fill_pool_byte_array``)."""

    def take(self) -> Any: ...


# Engine callbacks that are exposed although they start with an underscore.
VIRTUALS = frozenset(
    {
        "_ready", "_process", "_physics_process", "_enter_tree", "_exit_tree", "_input",
        "_unhandled_input", "_unhandled_key_input", "_notification", "_to_string",
        "_get", "_set", "_get_property_list", "_draw", "_gui_input",
    }
)  # fmt: skip


def vtype_of(annotation: Any) -> tuple[VariantType, bool]:
    """Map an annotation to (variant type, accepts null).

    bool, int (IntEnums too), float, str, bytes, ``list[str]`` (PoolStringArray),
    list (Array), dict (Dictionary), ``GodotObjectLike`` (Object); ``X | None``
    also accepts null; anything else (or no annotation) is ANY.
    """
    if annotation is None or annotation is type(None):
        return VariantType.NIL, True
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(members) != len(typing.get_args(annotation))
        if len(members) == 1:
            return vtype_of(members[0])[0], nullable
        return VariantType.ANY, True
    if origin is list:
        args = typing.get_args(annotation)
        if args == (str,):
            return VariantType.POOL_STRING_ARRAY, False
        return VariantType.ARRAY, False
    if origin is dict:
        return VariantType.DICTIONARY, False
    simple: dict[Any, VariantType] = {
        bool: VariantType.BOOL,
        float: VariantType.REAL,
        str: VariantType.STRING,
        bytes: VariantType.POOL_BYTE_ARRAY,
        memoryview: VariantType.POOL_BYTE_ARRAY,
        PoolByteArrayLike: VariantType.POOL_BYTE_ARRAY,
        list: VariantType.ARRAY,
        tuple: VariantType.ARRAY,
        dict: VariantType.DICTIONARY,
        GodotObjectLike: VariantType.OBJECT,
    }
    if annotation in simple:
        return simple[annotation], False
    if isinstance(annotation, type):
        if issubclass(annotation, int):
            return VariantType.INT, False
        if hasattr(annotation, "__gdexposed__"):
            return VariantType.OBJECT, True
    return VariantType.ANY, True


class Export:
    """An exported property; a data descriptor so Python reads what Godot sets."""

    def __init__(
        self,
        type_: Any,
        default: Any = None,
        *,
        getter: Callable[[Any], Any] | None = None,
        setter: Callable[[Any, Any], Any] | None = None,
        hint: int = 0,
        hint_string: str = "",
        usage: int = 7,
    ) -> None:
        self.type = type_
        self.vtype, self.nullable = vtype_of(type_)
        self.default = default
        self.getter = getter
        self.setter = setter
        self.hint = hint
        self.hint_string = hint_string
        self.usage = usage
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, inst: Any, owner: type | None = None) -> Any:
        if inst is None:
            return self
        if self.getter is not None:
            return self.getter(inst)
        return inst.__dict__.get(self.name, self.default)

    def __set__(self, inst: Any, value: Any) -> None:
        if self.setter is not None:
            self.setter(inst, value)
        else:
            inst.__dict__[self.name] = value

    def init_instance(self, inst: Any) -> None:
        # Mutable defaults are copied so instances never share a list or dict.
        if self.getter is None and self.name not in inst.__dict__:
            inst.__dict__[self.name] = copy.copy(self.default)


def export(
    type_: Any,
    default: Any = None,
    *,
    getter: Callable[[Any], Any] | None = None,
    setter: Callable[[Any, Any], Any] | None = None,
    hint: int = 0,
    hint_string: str = "",
    usage: int = 7,
) -> Any:
    """Declare a property Godot can get and set (``obj.name`` in GDScript).

    With ``getter``/``setter`` (functions of the class) the property forwards
    to them, like the engine's ``read_chunk_size`` → ``get_read_chunk_size``.
    """
    return Export(
        type_, default, getter=getter, setter=setter, hint=hint, hint_string=hint_string,
        usage=usage,
    )  # fmt: skip


class Signal:
    """A signal; its name is the attribute name unless given."""

    def __init__(self, *args: str, name: str = "") -> None:
        self.args = args
        self.name = name

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = self.name or name


def signal(*args: str, name: str = "") -> Any:
    """Declare a signal with the given argument names: ``done = signal("result")``."""
    return Signal(*args, name=name)


@dataclass
class ParamInfo:
    name: str
    vtype: VariantType
    nullable: bool
    #: A ``memoryview`` parameter borrows the PoolByteArray's memory (no copy).
    view: bool = False


@dataclass
class MethodInfo:
    name: str
    func: Callable[..., Any]
    params: list[ParamInfo]
    min_args: int
    max_args: int  # -1: varargs
    ret: VariantType
    returns_error: bool  # annotated with an Error enum: failures return an Error code


@dataclass
class ClassInfo:
    cls: type
    name: str
    base: str
    tool: bool
    methods: list[MethodInfo] = field(default_factory=list)
    exports: list[Export] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)


# Every @exposed class, in definition order; the bridge registers them all.
REGISTRY: list[ClassInfo] = []


def _method_info(name: str, func: Callable[..., Any]) -> MethodInfo:
    sig = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        hints = {}
    params: list[ParamInfo] = []
    min_args, max_args = 0, 0
    for p in list(sig.parameters.values())[1:]:  # skip self
        if p.kind is p.VAR_POSITIONAL:
            max_args = -1
            continue
        if p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD):
            continue
        hint = hints.get(p.name, Any)
        vtype, nullable = vtype_of(hint)
        params.append(ParamInfo(p.name, vtype, nullable or p.default is None,
                                view=hint is memoryview))
        if p.default is p.empty:
            min_args += 1
        if max_args >= 0:
            max_args += 1
    ret_ann = hints.get("return", Any)
    ret, _ = vtype_of(ret_ann)
    returns_error = isinstance(ret_ann, type) and ret_ann.__name__ == "Error"
    return MethodInfo(name, func, params, min_args, max_args, ret, returns_error)


def _collect(cls: type, info: ClassInfo) -> None:
    seen: set[str] = set()
    for klass in cls.__mro__[:-1]:  # without object
        for attr, value in vars(klass).items():
            if attr in seen:
                continue
            seen.add(attr)
            if isinstance(value, Export):
                info.exports.append(value)
            elif isinstance(value, Signal):
                info.signals.append(value)
            elif inspect.isfunction(value) and (not attr.startswith("_") or attr in VIRTUALS):
                info.methods.append(_method_info(attr, value))


C = TypeVar("C", bound=type)


def exposed(
    cls: C | None = None, *, base: str = "Reference", name: str = "", tool: bool = False
) -> Any:
    """Register a class with Godot: ``@exposed`` or ``@exposed(base="Node")``.

    Godot creates instances (``MyClass.new()``); the bridge then sets
    ``self.owner`` and calls ``__init__()`` without arguments. Public methods
    and Godot callbacks (``_ready``, ``_process``...) are callable from Godot.
    """

    def wrap(klass: C) -> C:
        info = ClassInfo(klass, name or klass.__name__, base, tool)
        _collect(klass, info)
        klass.__gdexposed__ = info  # type: ignore[attr-defined]
        REGISTRY.append(info)
        return klass

    return wrap if cls is None else wrap(cls)
