"""res:// and user:// paths inside the real engine (gdhttp.paths + the engine's File API).

The project is assembled in a temp folder: a CA bundle under res://certs/, an
upload source at res://upload.bin, a game module under res://packed/. The
suite trusts nginx's CA through res://, downloads to user://, uploads from
res:// (plain and multipart), and reads res:// and imports a module the way an
exported game does (through File, not open()).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.godot_harness import GODOT, ensure_addon, run_suite

pytestmark = [pytest.mark.engine]

HERE = Path(__file__).resolve().parent
UPLOAD = bytes(range(256)) * 300 + b"tail"


@pytest.fixture(scope="module")
def paths_run(
    nginx_http: Any, nginx_https: Any, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    assert shutil.which(GODOT), f"{GODOT} is missing: run make setup"
    ensure_addon()
    project = tmp_path_factory.mktemp("paths-project")
    shutil.copytree(HERE / "engine" / "paths_project", project, dirs_exist_ok=True)
    shutil.copy(HERE / "engine" / "project" / "suite_base.gd", project / "suite_base.gd")
    (project / "addons").symlink_to(HERE.parent / "addons", target_is_directory=True)
    (project / "certs").mkdir()
    (project / "certs" / "ca.pem").write_bytes(nginx_https.ca_pem)
    (project / "upload.bin").write_bytes(UPLOAD)
    run = run_suite(
        "paths_suite.gd",
        project=project,
        env={
            "GDHTTP_HTTPS_URL": nginx_https.url("").rstrip("/"),
            "GDHTTP_HTTP_URL": nginx_http.url("").rstrip("/"),
            "GDHTTP_UPLOAD_SHA": hashlib.sha256(UPLOAD).hexdigest(),
            "GDHTTP_FILE_SHA": nginx_https.files["64k.bin"][1],
        },
        timeout=120,
    )
    return run, nginx_http


def test_paths_suite_passes(paths_run: Any) -> None:
    run, _ = paths_run
    assert run.returncode == 0 and not run.failed, run.describe()
    assert len(run.passed) == 20, run.describe()  # every check of paths_suite.gd ran


def test_uploads_from_res_reach_the_server(paths_run: Any) -> None:
    run, nginx_http = paths_run
    assert run.returncode == 0, run.describe()
    stored = nginx_http.upload_dir / "from-res.bin"
    assert stored.read_bytes() == UPLOAD
    multipart = (nginx_http.upload_dir / "multi.bin").read_bytes()
    assert UPLOAD in multipart and b'name="title"' in multipart
