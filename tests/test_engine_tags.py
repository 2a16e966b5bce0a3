"""The bridge's engine-free parts: the decorator vocabulary and the ABI table."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from gdhttp.constants import Error
from gdhttp.gdnative import GodotObjectLike, export, exposed, signal, tags
from gdhttp.gdnative.cdefs import TABLE_NAMES, entries
from gdhttp.gdnative.tags import VariantType as V

# The slots of every API function the bridge uses, vendored from the engine's
# gdnative_api.json (Godot 3.2.3) so the check runs on any clone.
API_INDEX = Path(__file__).resolve().parent / "data" / "gdnative_api_slots.tsv"


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (bool, (V.BOOL, False)),
        (int, (V.INT, False)),
        (Error, (V.INT, False)),
        (float, (V.REAL, False)),
        (str, (V.STRING, False)),
        (bytes, (V.POOL_BYTE_ARRAY, False)),
        (list[str], (V.POOL_STRING_ARRAY, False)),
        (list[int], (V.ARRAY, False)),
        (list, (V.ARRAY, False)),
        (dict[str, Any], (V.DICTIONARY, False)),
        (GodotObjectLike, (V.OBJECT, False)),
        (str | None, (V.STRING, True)),
        (None, (V.NIL, True)),
        (Any, (V.ANY, True)),
        (int | str, (V.ANY, True)),
    ],
)
def test_vtype_of(annotation: Any, expected: tuple[V, bool]) -> None:
    assert tags.vtype_of(annotation) == expected


def test_exposed_collects_methods_exports_and_signals() -> None:
    @exposed(base="Node", name="TagsProbe")
    class Probe:
        done = signal("a", "b")
        size = export(int, default=3)
        items = export(list, default=[])

        def go(self, a: int, b: str = "x", *rest: Any) -> Error:
            return Error.OK

        def _ready(self) -> None: ...

        def _helper(self) -> None: ...

    try:
        info = Probe.__gdexposed__  # type: ignore[attr-defined]
        assert (info.name, info.base) == ("TagsProbe", "Node")
        methods = {m.name: m for m in info.methods}
        assert set(methods) == {"go", "_ready"}
        go = methods["go"]
        assert (go.min_args, go.max_args, go.returns_error) == (1, -1, True)
        assert [(p.name, p.vtype) for p in go.params] == [("a", V.INT), ("b", V.STRING)]
        assert [s.name for s in info.signals] == ["done"] and info.signals[0].args == ("a", "b")
        assert {e.name for e in info.exports} == {"size", "items"}
        one, two = Probe(), Probe()
        for exp in info.exports:
            exp.init_instance(one)
            exp.init_instance(two)
        one.items.append(1)
        assert two.items == [] and one.size == 3  # defaults are per instance
    finally:
        tags.REGISTRY.remove(Probe.__gdexposed__)  # type: ignore[attr-defined]


def test_export_with_getter_and_setter_forwards() -> None:
    class Box:
        def __init__(self) -> None:
            self.v = 1

        def get_v(self) -> int:
            return self.v

        def set_v(self, value: int) -> None:
            self.v = value * 10

        value = export(int, getter=get_v, setter=set_v)

    box = Box()
    box.value = 2
    assert box.value == 20


def test_pyhttpclient_mirrors_the_client() -> None:
    from gdhttp.client import HTTPClient
    from gdhttp.godot_classes import PyHTTPClient

    info = PyHTTPClient.__gdexposed__  # type: ignore[attr-defined]
    exposed_names = {m.name for m in info.methods}
    # Python objects, not GDScript values (attach/detach: the session's seam).
    skipped = {"request_stream", "read_response_body_chunk_into", "set_connection",
               "get_connection", "attach", "detach"}  # fmt: skip
    public = {
        n for n in dir(HTTPClient) if not n.startswith("_") and callable(getattr(HTTPClient, n))
    }
    public -= {m for m in public if m.isupper() or m[0].isupper()}  # enum constants/classes
    assert public - skipped <= exposed_names
    methods = {m.name: m for m in info.methods}
    cth = methods["connect_to_host"]
    assert (cth.min_args, cth.max_args, cth.returns_error) == (1, 4, True)
    assert methods["request"].params[2].vtype == V.POOL_STRING_ARRAY
    assert methods["request_raw"].params[3].vtype == V.POOL_BYTE_ARRAY
    assert methods["get_response_headers"].ret == V.POOL_STRING_ARRAY
    assert methods["read_response_body_chunk"].ret == V.POOL_BYTE_ARRAY
    assert {e.name for e in info.exports} == {"read_chunk_size", "blocking_mode_enabled"}


def test_slots_match_the_engine_api_index() -> None:
    tables = {("core", "1.0"): "core1.0", ("core", "1.1"): "core1.1",
              ("nativescript", "1.0"): "ns1.0", ("nativescript", "1.1"): "ns1.1"}  # fmt: skip
    index = {}
    with API_INDEX.open() as f:
        for row in csv.reader((ln for ln in f if not ln.startswith("#")), delimiter="\t"):
            key = tables.get((row[0], row[1]))
            if key:
                index[(TABLE_NAMES[key], row[5])] = int(row[3])
    used = list(entries())
    assert len(index) == len(used)
    for e in used:
        assert index[(e.table, e.name)] == e.slot, e.name
