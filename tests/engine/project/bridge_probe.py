"""Classes the bridge suite drives from GDScript (registered via project.godot)."""

from __future__ import annotations

from typing import Any

from gdhttp.constants import Error
from gdhttp.gdnative import GodotObjectLike, export, exposed, signal
from gdhttp.gdnative.tags import PoolByteArrayLike
from gdhttp.gdnative.variant import fill_pool_byte_array


@exposed(base="Reference")
class BridgeProbe:
    owner: GodotObjectLike
    pinged = signal("value")
    label = export(str, default="probe")
    count = export(int, default=3)

    def __init__(self) -> None:
        self.calls = 0

    def echo(self, value: Any) -> Any:
        return value

    def noop(self) -> None:
        self.calls += 1

    def zero(self) -> int:
        return 0

    def typed(self, i: int, f: float, s: str, b: bool) -> str:
        return f"{i!r}|{f!r}|{s}|{b!r}"

    def with_defaults(self, a: int, b: int = 10, c: str = "x") -> str:
        return f"{a}-{b}-{c}"

    def needs_bytes(self, data: bytes) -> int:
        return len(data)

    def needs_strings(self, items: list[str]) -> str:
        return ",".join(items)

    def strings_out(self, n: int) -> list[str]:
        return [f"s{i}" for i in range(n)]

    def bytes_out(self, n: int) -> bytes:
        return bytes(range(256)) * (n // 256) + bytes(range(n % 256))

    def dict_out(self) -> dict[str, Any]:
        return {"z": 1, "a": [1, 2.5, "three", None, True], "m": {"k": b"\x00\x01"}}

    def types_of(self, value: Any) -> str:
        return type(value).__name__

    def boom(self) -> Error:
        raise RuntimeError("raised on purpose by the bridge suite")

    def boom_value(self) -> int:
        raise ValueError("raised on purpose (value method)")

    def status(self, i: int) -> Error:
        return Error(i)

    def emit(self, value: Any) -> bool:
        self.owner.emit_signal("pinged", value)
        return True

    def call_back(self, target: GodotObjectLike, method: str, arg: Any) -> Any:
        return target.call(method, arg)

    def bad_engine_call(self) -> Any:
        return self.owner.call("no_such_method_here")

    def get_calls(self) -> int:
        return self.calls

    def live_instances(self) -> int:
        from gdhttp.gdnative import registry

        return registry.live_instances()


@exposed(base="Node")
class ProbeNode:
    owner: GodotObjectLike
    ticked = signal()

    def __init__(self) -> None:
        self.ticks = 0
        self.ready_called = False

    def _ready(self) -> None:
        self.ready_called = True
        self.owner.set_process(True)

    def _process(self, delta: float) -> None:
        self.ticks += 1
        if self.ticks == 3:
            self.owner.emit_signal("ticked")
            self.owner.set_process(False)

    def was_ready(self) -> bool:
        return self.ready_called

    def get_ticks(self) -> int:
        return self.ticks

    def child_name(self, path: str) -> str:
        node = self.owner.get_node(path)
        return str(node.get_name())

    def defer(self, method: str) -> None:
        self.owner.call_deferred(method)


@exposed(base="Reference")
class FillProbe:
    owner: GodotObjectLike

    def fill(self, n: int) -> PoolByteArrayLike:
        return fill_pool_byte_array(n, _fill_all)

    def noop(self) -> None:
        pass

    def zero(self) -> int:
        return 0

    def one(self, n: int) -> int:
        return n

    def copy(self, n: int) -> bytes:
        return bytes(n)


def _fill_all(view: memoryview) -> int:
    return len(view)
