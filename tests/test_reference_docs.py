"""docs/reference/ is generated from the registered classes and matches the engine's view."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.godot_harness import ensure_addon, run_suite
from gdhttp.gdnative import docgen

REPO = Path(__file__).resolve().parents[1]
MODULES = ["gdhttp.godot_classes", "gdhttp.godot_request", "gdhttp.godot_session",
           "gdhttp.godot_eventsource"]
REGENERATE = "python -m gdhttp.gdnative.docgen docs/reference " + " ".join(MODULES)


def _documented(text: str) -> dict[str, set[str]]:
    return {
        "method": set(re.findall(r"^\| [^|]*?\*\*(\w+)\*\* \(", text, re.M)),
        "property": set(re.findall(r"^\| \w+ \| (\w+) \| `", text, re.M)),
        "signal": set(re.findall(r"^- \*\*(\w+)\*\* \(", text, re.M)),
    }


def test_reference_is_current() -> None:
    pages = docgen.pages(MODULES)
    assert set(pages) == {"PyHTTPClient", "PyHTTPRequest", "PyHTTPSession", "PyEventSource"}
    for name, text in pages.items():
        committed = (REPO / "docs" / "reference" / f"{name}.md").read_text()
        assert committed == text, f"docs/reference/{name}.md is stale: run {REGENERATE}"


@pytest.mark.engine
def test_reference_lists_what_the_engine_registered() -> None:
    ensure_addon()
    run = run_suite("surface_dump.gd")
    assert run.returncode == 0, run.describe()
    registered: dict[str, dict[str, set[str]]] = {}
    for line in run.lines("SURFACE "):
        cls, kind, name = line.split()
        registered.setdefault(cls, {"method": set(), "property": set(), "signal": set()})
        registered[cls][kind].add(name)
    assert set(registered) == {"PyHTTPClient", "PyHTTPRequest", "PyHTTPSession",
                               "PyEventSource"}, \
        run.describe()
    for cls, kinds in registered.items():
        documented = _documented((REPO / "docs" / "reference" / f"{cls}.md").read_text())
        # Engine callbacks (_ready, _process, ...) are registered but not part of the API.
        public = {n for n in kinds["method"] if not n.startswith("_")}
        assert documented["method"] == public, cls
        assert documented["property"] == kinds["property"], cls
        assert documented["signal"] == kinds["signal"], cls
