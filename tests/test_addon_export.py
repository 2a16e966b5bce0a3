"""The shipped addon in a game: archive -> fresh project -> Godot's own export ->
the exported game run from another folder with every Python on the machine hidden.

Hidden in a private mount namespace (``unshare --mount --propagation private``, see
``addonutil.hidden_command``): the checkout (and with it ``.venv``), ``sys.prefix``,
``sys.base_prefix`` and the pyenv root, ``/usr/lib/python3*``, ``/usr/local/lib/python3*``
(empty tmpfs over each), every ``libpython3*`` and ``python3*`` binary of the system
folders (``/dev/null`` bound over each). The script checks each hiding took effect.
The game talks only to the session's loopback nginx.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

import addonutil

from servers import Endpoint

pytestmark = [
    pytest.mark.skipif(
        shutil.which("unshare") is None or os.geteuid() != 0,
        reason="needs root and unshare to hide the machine's Python (CI runs as root)",
    ),
]


def _export(tmp_path: Path, ca_pem: bytes) -> tuple[Path, bytes]:
    project = addonutil.new_project(tmp_path / "game")
    (project / "certs").mkdir()
    (project / "certs" / "ca.pem").write_bytes(ca_pem)
    payload = hashlib.sha256(b"gdhttp export payload").digest() * 9000  # 288000 bytes
    (project / "payload.bin").write_bytes(payload)
    out = tmp_path / "export"
    out.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    proc = addonutil.run_godot(
        [addonutil.GODOT, "--path", str(project), "--export", "Linux/X11",
         str(out / "game.x86_64")],
        home,
    )  # fmt: skip
    assert (out / "game.x86_64").is_file() and (out / "game.pck").is_file(), (
        proc.stdout[-3000:] + proc.stderr[-3000:]
    )
    return out, payload


def test_exported_game_runs_with_every_python_hidden(
    tmp_path: Path, nginx_https: Endpoint, nginx_http: Endpoint
) -> None:
    assert nginx_https.ca_pem is not None
    out, payload = _export(tmp_path, nginx_https.ca_pem)
    # The .gdnlib dependencies were copied flat next to the binary.
    for name in ("libgdhttp.so", "libpython3.11.so.1.0", "python311.zip", "gdhttp.zip",
                 "_cffi_backend.cpython-311-x86_64-linux-gnu.so", "libssl.so.3"):  # fmt: skip
        assert (out / name).is_file(), sorted(p.name for p in out.iterdir())

    _size, sha = nginx_https.files["1m.bin"]
    upload_name = f"export-{os.getpid()}-{tmp_path.name}.bin"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = tmp_path / "player-home"
    home.mkdir()
    cmd = addonutil.hidden_command([str(out / "game.x86_64")], cwd=elsewhere)
    proc = addonutil.run_godot(
        cmd, home, timeout=120,
        env={"GAME_HTTPS_URL": nginx_https.url("/files/1m.bin", host="localhost"),
             "GAME_UPLOAD_URL": nginx_http.url(f"/upload/{upload_name}"),
             "GAME_EXPECT_SHA": sha},
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert "GAME PASSED" in proc.stdout, output[-5000:]
    assert len(re.findall(r"^CHECK ok ", proc.stdout, re.M)) == 8, proc.stdout
    assert "CHECK FAIL" not in proc.stdout

    # The interpreter, its modules and the game module came from the export folder / .pck.
    runtime = json.loads(re.search(r"^RUNTIME (.*)$", proc.stdout, re.M).group(1))  # type: ignore[union-attr]
    assert runtime["path"] and all(p.startswith(str(out)) for p in runtime["path"]), runtime
    assert runtime["file"] == "res://game_logic.py"
    strays = [m for m in runtime["modules"] if m and not m.startswith((str(out), "res://"))]
    assert not strays, strays
    assert runtime["version"].split()[0] == sys.version.split()[0]

    # The upload arrived whole.
    uploaded = nginx_http.upload_dir / upload_name
    assert uploaded.read_bytes() == payload
    assert f"UPLOADED {hashlib.sha256(payload).hexdigest()}" in proc.stdout


def test_hiding_is_real(tmp_path: Path) -> None:
    """The namespace really has no Python: running one there fails."""
    dirs, files = addonutil.python_installations()
    assert sys.base_prefix in dirs or any(sys.base_prefix.startswith(d + "/") for d in dirs)
    for lib in glob.glob("/usr/lib/x86_64-linux-gnu/libpython3*.so*"):
        assert os.path.realpath(lib) in files, (lib, files)
    cmd = addonutil.hidden_command(
        [sys.executable, "-c", "print('python ran')"], cwd=tmp_path
    )
    proc = addonutil.run_godot(cmd, tmp_path, timeout=30)
    assert proc.returncode not in (0, 97), proc.stdout + proc.stderr
    assert "python ran" not in proc.stdout
