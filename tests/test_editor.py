"""The editor plugin in the real editor: ``godot3 --editor`` on a copy of demo_project
under a private Xvfb display; the plugin must register its types without errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GODOT_EDITOR = os.environ.get("GDHTTP_GODOT_EDITOR", shutil.which("godot3") or "/usr/bin/godot3")
MARKER = "gdhttp plugin: registered PyHTTPRequest, PyHTTPClient, PyEventSource"

pytestmark = [pytest.mark.editor]  # godot3 and xvfb-run come from make setup: never skipped


def _open_editor(project: Path, home: Path, limit: float = 90.0) -> str:
    """Open the editor on ``project`` and let it quit by itself (``--quit``); its output.

    The editor must exit with status 0: a crash on the way out (as Godot 3.2.3 does on
    ``--quit`` in a project holding a texture, hence the plugin's embedded icons) fails.
    Xvfb has no sound card: the Dummy audio driver, so no engine dlopens the machine's
    libpulse/libasound (Godot 3.6's private tree would otherwise take the system's).
    """
    log = home / "editor.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", GODOT_EDITOR, "--editor",
             "--audio-driver", "Dummy", "--path", str(project), "--quit"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "HOME": str(home), "LC_ALL": "C.UTF-8"},
        )  # fmt: skip
        try:
            code = proc.wait(limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # xvfb-run, Xvfb and the editor: our own group
            proc.wait(10)
            raise AssertionError(f"the editor did not quit in {limit:g} s") from None
    output = log.read_text(errors="replace")
    assert code == 0, f"the editor exited with {code}:\n{output[-4000:]}"
    return output


def _assert_registered_cleanly(output: str) -> None:
    """The plugin's marker, and no error line that names gdhttp, the plugin or Python."""
    assert MARKER in output, output[-4000:]
    bad = [
        ln for ln in output.splitlines()
        if ("ERROR" in ln or "SCRIPT ERROR" in ln or "Traceback" in ln or "failed to load" in ln)
        and any(w in ln.lower() for w in ("gdhttp", "plugin", "pyhttp", ".gdns", "python"))
    ]  # fmt: skip
    assert not bad, "\n".join(bad) + "\n---\n" + output[-4000:]


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
    _assert_registered_cleanly(output)
    # The enabled plugin's types, and their icons, came up without complaints.
    assert "Addon 'res://addons/gdhttp" not in output and "Addon 'gdhttp'" not in output


def test_installed_archive_registers_both_types_in_the_editor(tmp_path: Path) -> None:
    """A fresh project with the archive installed by ``python -m gdhttp.addon install``:
    nothing of the checkout is linked in; the enabled plugin registers both types."""
    import addonutil

    project = addonutil.new_project(tmp_path / "game")
    assert not (project / "addons" / "gdhttp").is_symlink()
    home = tmp_path / "home"
    home.mkdir()
    output = _open_editor(project, home)
    _assert_registered_cleanly(output)
