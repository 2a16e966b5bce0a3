"""Registering gdhttp's classes in a Godot 3 project's ``project.godot``.

GDScript knows a class name such as ``PyHTTPRequest`` only through
``_global_script_classes`` in ``project.godot``. The editor writes that list when
it scans a project, but a project that is only ever run headless (a server, CI)
never gets it, and its scripts fail with "identifier not declared". Installing
the addon therefore writes the entries, and enables the plugin, the way the
editor would; entries the project already has are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["GDHTTP_CLASSES", "ProjectFileError", "ScriptClass", "register"]

ADDON = "res://addons/gdhttp/"
PLUGIN = "gdhttp"


@dataclass(frozen=True)
class ScriptClass:
    base: str
    name: str
    language: str
    path: str


GDHTTP_CLASSES = (
    ScriptClass("Reference", "PyHTTPClient", "NativeScript", ADDON + "PyHTTPClient.gdns"),
    ScriptClass("Node", "PyHTTPRequest", "NativeScript", ADDON + "PyHTTPRequest.gdns"),
    ScriptClass("Reference", "PyHTTPSession", "NativeScript", ADDON + "PyHTTPSession.gdns"),
    ScriptClass("HTTPRequest", "PyHTTPRequestNode", "GDScript", ADDON + "PyHTTPRequestNode.gd"),
    ScriptClass("Node", "PyEventSource", "NativeScript", ADDON + "PyEventSource.gdns"),
)


class ProjectFileError(ValueError):
    """The text is not a Godot 3 project file this module can edit safely."""


_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*"((?:[^"\\]|\\.)*)"')
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _top_value(text: str, key: str, open_char: str, close_char: str) -> tuple[int, int] | None:
    """Span of ``key=<bracketed value>`` before the first section header, or None."""
    match = re.search(rf"^{re.escape(key)}=", text, re.M)
    first_section = re.search(r"^\[", text, re.M)
    if match is None or (first_section is not None and match.start() > first_section.start()):
        return None
    start = match.end()
    if text[start : start + 1] != open_char:
        raise ProjectFileError(f"{key} is not a {open_char}...{close_char} value")
    depth, i, in_string = 0, start, False
    while i < len(text):
        c = text[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c == open_char:
            depth += 1
        elif c == close_char:
            depth -= 1
            if depth == 0:
                return match.start(), i + 1
        i += 1
    raise ProjectFileError(f"{key} is not closed")


def _classes(text: str) -> list[ScriptClass]:
    span = _top_value(text, "_global_script_classes", "[", "]")
    if span is None:
        return []
    found = []
    for block in re.findall(r"\{[^{}]*\}", text[span[0] : span[1]]):
        fields = dict(_PAIR.findall(block))
        if {"base", "class", "language", "path"} <= fields.keys():
            found.append(ScriptClass(fields["base"], fields["class"], fields["language"],
                                     fields["path"]))
    return found


def _icons(text: str) -> dict[str, str]:
    span = _top_value(text, "_global_script_class_icons", "{", "}")
    return dict(_PAIR.findall(text[span[0] : span[1]])) if span else {}


def _render_classes(classes: list[ScriptClass]) -> str:
    items = [
        f'{{\n"base": "{c.base}",\n"class": "{c.name}",\n"language": "{c.language}",\n'
        f'"path": "{c.path}"\n}}'
        for c in classes
    ]
    return "_global_script_classes=[ " + ", ".join(items) + " ]"


def _render_icons(icons: dict[str, str]) -> str:
    body = ",\n".join(f'"{name}": "{path}"' for name, path in icons.items())
    return "_global_script_class_icons={\n" + body + "\n}"


def _replace_or_insert(text: str, key: str, rendered: str, brackets: tuple[str, str]) -> str:
    span = _top_value(text, key, *brackets)
    if span is not None:
        return text[: span[0]] + rendered + text[span[1] :]
    # Top-level keys go after config_version, before the first section.
    match = re.search(r"^config_version=\d+\s*$", text, re.M)
    assert match is not None  # checked by register()
    return text[: match.end()] + "\n\n" + rendered + text[match.end() :]


def _enable_plugin(text: str) -> str:
    section = re.search(r"^\[editor_plugins\]\s*$", text, re.M)
    if section is None:
        enabled = f'enabled=PoolStringArray( "{PLUGIN}" )'
        return text.rstrip("\n") + f"\n\n[editor_plugins]\n\n{enabled}\n"
    end = re.search(r"^\[", text[section.end() :], re.M)
    stop = section.end() + (end.start() if end else len(text) - section.end())
    body = text[section.end() : stop]
    line = re.search(r"^enabled=PoolStringArray\((.*)\)\s*$", body, re.M)
    if line is None:
        return text[: section.end()] + f'\n\nenabled=PoolStringArray( "{PLUGIN}" )' + text[
            section.end() :]
    names = _STRING.findall(line.group(1))
    if PLUGIN in names:
        return text
    names.append(PLUGIN)
    new_line = "enabled=PoolStringArray( " + ", ".join(f'"{n}"' for n in names) + " )"
    start = section.end() + line.start()
    return text[:start] + new_line + text[section.end() + line.end() :]


def register(text: str, *, enable_plugin: bool = True) -> str:
    """``project.godot`` text with gdhttp's global classes (and plugin) added."""
    if not re.search(r"^config_version=4\s*$", text, re.M):
        raise ProjectFileError("not a Godot 3 project.godot (config_version=4 missing)")
    classes = [c for c in _classes(text) if c.name not in {g.name for g in GDHTTP_CLASSES}]
    classes += list(GDHTTP_CLASSES)
    classes.sort(key=lambda c: c.name)
    icons = _icons(text)
    for cls in GDHTTP_CLASSES:
        icons.setdefault(cls.name, "")
    text = _replace_or_insert(text, "_global_script_classes", _render_classes(classes),
                              ("[", "]"))
    text = _replace_or_insert(text, "_global_script_class_icons", _render_icons(icons),
                              ("{", "}"))
    return _enable_plugin(text) if enable_plugin else text
