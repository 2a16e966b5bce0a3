"""The editor plugin in the real editor: ``godot3 --editor`` on a copy of demo_project
under a private Xvfb display; the plugin must register its types without errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GODOT_EDITOR = os.environ.get("GDHTTP_GODOT_EDITOR", shutil.which("godot3") or "/usr/bin/godot3")
MARKER = "gdhttp plugin: registered PyHTTPRequest, PyHTTPClient"

pytestmark = [
    pytest.mark.editor,
    pytest.mark.skipif(
        shutil.which(GODOT_EDITOR) is None or shutil.which("xvfb-run") is None,
        reason="godot3 and xvfb-run are needed",
    ),
]


def _open_editor(project: Path, home: Path, settle: float = 4.0, limit: float = 90.0) -> str:
    """Run the editor until the plugin's marker (plus ``settle`` s) or ``limit``; its output."""
    log = home / "editor.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", GODOT_EDITOR, "--editor",
             "--path", str(project)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "HOME": str(home), "LC_ALL": "C.UTF-8"},
        )  # fmt: skip
        end = time.monotonic() + limit
        seen_at = None
        try:
            while time.monotonic() < end and proc.poll() is None:
                if seen_at is None and MARKER in log.read_text(errors="replace"):
                    seen_at = time.monotonic()
                if seen_at is not None and time.monotonic() - seen_at > settle:
                    break
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 15)  # xvfb-run, Xvfb and the editor: our own group
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait(10)
    return log.read_text(errors="replace")


def test_plugin_loads_in_the_editor() -> None:
    from engine.godot_harness import ensure_addon

    ensure_addon()
    with tempfile.TemporaryDirectory(prefix="gdhttp-editor-") as tmp:
        project = Path(tmp) / "demo_project"
        # A copy, so the editor's rewrites of project.godot and .import/ stay out of the tree.
        shutil.copytree(REPO / "demo_project", project, symlinks=True,
                        ignore=shutil.ignore_patterns(".import"))  # fmt: skip
        (project / "addons").unlink()
        (project / "addons").symlink_to(REPO / "addons", target_is_directory=True)
        home = Path(tmp) / "home"
        home.mkdir()
        output = _open_editor(project, home)
    assert MARKER in output, output[-4000:]
    bad = [
        ln for ln in output.splitlines()
        if ("ERROR" in ln or "SCRIPT ERROR" in ln or "Traceback" in ln or "failed to load" in ln)
        and any(w in ln.lower() for w in ("gdhttp", "plugin", "pyhttp", ".gdns", "python"))
    ]  # fmt: skip
    assert not bad, "\n".join(bad) + "\n---\n" + output[-4000:]
    # The enabled plugin's types, and their icons, came up without complaints.
    assert "Addon 'res://addons/gdhttp" not in output and "Addon 'gdhttp'" not in output
