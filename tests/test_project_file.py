"""project.godot editing: gdhttp's global classes and plugin, the rest of the file kept."""

from __future__ import annotations

import pytest

from gdhttp import project_file
from gdhttp.project_file import ProjectFileError, register

BARE = 'config_version=4\n\n[application]\n\nconfig/name="Game"\n'

EDITED = '''; Engine configuration file.

config_version=4

_global_script_classes=[ {
"base": "Node",
"class": "Api",
"language": "GDScript",
"path": "res://api.gd"
}, {
"base": "Node",
"class": "PyHTTPRequest",
"language": "NativeScript",
"path": "res://old/PyHTTPRequest.gdns"
} ]
_global_script_class_icons={
"Api": "res://icon.png",
"PyHTTPRequest": ""
}

[application]

config/name="Game [demo]"

[editor_plugins]

enabled=PoolStringArray( "other" )
'''


def test_bare_project_gets_classes_icons_and_plugin() -> None:
    out = register(BARE)
    assert [c.name for c in project_file._classes(out)] == [
        "PyEventSource", "PyHTTPClient", "PyHTTPRequest", "PyHTTPRequestNode", "PyHTTPSession"]
    assert project_file._icons(out) == {
        "PyHTTPClient": "", "PyHTTPRequest": "", "PyHTTPRequestNode": "", "PyHTTPSession": "",
        "PyEventSource": ""}
    assert out.index("_global_script_classes") < out.index("[application]")
    assert out.endswith('[editor_plugins]\n\nenabled=PoolStringArray( "gdhttp" )\n')
    assert 'config/name="Game"' in out


def test_existing_entries_are_kept_and_ours_replaced() -> None:
    out = register(EDITED)
    classes = {c.name: c for c in project_file._classes(out)}
    assert set(classes) == {"Api", "PyHTTPClient", "PyHTTPRequest", "PyHTTPRequestNode",
                            "PyHTTPSession", "PyEventSource"}
    assert classes["Api"].path == "res://api.gd"
    assert classes["PyHTTPRequest"].path == "res://addons/gdhttp/PyHTTPRequest.gdns"
    assert project_file._icons(out)["Api"] == "res://icon.png"
    assert 'enabled=PoolStringArray( "other", "gdhttp" )' in out
    assert 'config/name="Game [demo]"' in out  # brackets in later sections are untouched
    assert out.startswith("; Engine configuration file.")


def test_idempotent() -> None:
    once = register(EDITED)
    assert register(once) == once


def test_plugin_can_stay_off() -> None:
    assert "[editor_plugins]" not in register(BARE, enable_plugin=False)


@pytest.mark.parametrize("text", ["", "config_version=3\n", "[application]\n"])
def test_refuses_what_is_not_a_godot3_project(text: str) -> None:
    with pytest.raises(ProjectFileError, match="config_version=4"):
        register(text)


def test_unclosed_value_is_refused() -> None:
    with pytest.raises(ProjectFileError, match="not closed"):
        register("config_version=4\n_global_script_classes=[ {\n")
