"""PyHTTPRequest as a node: behaviour a script relies on beyond the request itself."""

from __future__ import annotations

from typing import Any

import pytest

from engine.godot_harness import ensure_addon, run_suite

pytestmark = [pytest.mark.engine]


def test_set_process_false_does_not_stall_a_request(nginx_http: Any) -> None:
    ensure_addon()
    run = run_suite("process_flags.gd", env={"GDHTTP_URL": nginx_http.url("/files/1k.bin")})
    assert run.returncode == 0 and not run.failed, run.describe()
    assert len(run.passed) == 12, run.describe()  # 3 checks x 2 classes x threads on/off


def test_pyhttprequestnode_subclass_is_an_httprequest(nginx_http: Any) -> None:
    ensure_addon()
    run = run_suite("subclass_suite.gd", env={"GDHTTP_URL": nginx_http.url("").rstrip("/")})
    assert run.returncode == 0 and not run.failed, run.describe()
    assert len(run.passed) == 18, run.describe()


HEADLESS_FIRST_USE = """extends SceneTree
func _init():
\tvar req = PyHTTPRequest.new()
\tvar node = PyHTTPRequestNode.new()
\tvar http = PyHTTPClient.new()
\tprint("FIRST-USE ", req.get_class(), " ", node is HTTPRequest, " ", http.get_status())
\treq.free()
\tnode.free()
\tquit(0)
"""


def test_registered_project_knows_the_classes_headless(tmp_path: Any) -> None:
    """The README's first snippet in a project that never saw the editor."""
    from pathlib import Path

    from gdhttp.project_file import register

    ensure_addon()
    repo = Path(__file__).resolve().parents[1]
    (tmp_path / "addons").symlink_to(repo / "addons", target_is_directory=True)
    (tmp_path / "first.gd").write_text(HEADLESS_FIRST_USE)
    bare = 'config_version=4\n\n[application]\n\nconfig/name="fresh"\n'
    (tmp_path / "project.godot").write_text(bare)
    before = run_suite("first.gd", project=tmp_path, timeout=30)
    # Without the entries the script does not even parse (the engine still exits 0).
    assert "FIRST-USE" not in before.stdout, before.describe()
    assert "PARSE_ERROR" in before.output or "isn't declared" in before.output, before.describe()
    (tmp_path / "project.godot").write_text(register(bare))
    after = run_suite("first.gd", project=tmp_path, timeout=30)
    assert after.returncode == 0, after.describe()
    assert "FIRST-USE Node True 0" in after.stdout, after.describe()


def test_error_message_after_bridge_and_setter_refusals() -> None:
    ensure_addon()
    run = run_suite("error_messages.gd")
    assert run.returncode == 0 and not run.failed, run.describe()
    assert len(run.passed) == 6, run.describe()
