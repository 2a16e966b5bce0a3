"""Shared helpers of the addon tests: one archive per session, fresh game projects,
and the engine run with every Python installation of the machine hidden."""

from __future__ import annotations

import atexit
import functools
import glob
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GAME_PROJECT = REPO / "tests" / "addon" / "export_project"
GODOT = "/usr/bin/godot3-server"  # the export template too: Debian ships no templates


@functools.cache
def archive() -> Path:
    """``make addon``'s archive, built once per session into a private dist/ folder."""
    from gdhttp import addon

    dist = Path(tempfile.mkdtemp(prefix="gdhttp-dist-"))
    atexit.register(shutil.rmtree, dist, True)
    return addon.make_archive(dist)


def new_project(dest: Path, install: bool = True) -> Path:
    """A copy of the test game project with the archive installed by the real command."""
    shutil.copytree(GAME_PROJECT, dest)
    if install:
        proc = subprocess.run(
            [sys.executable, "-m", "gdhttp.addon", "install", str(dest), "--archive",
             str(archive())],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    return dest


def run_godot(args: list[str], home: Path, cwd: Path | None = None, timeout: float = 120,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, errors="replace", timeout=timeout,
        env={**os.environ, "HOME": str(home), "LC_ALL": "C.UTF-8", **(env or {})}, check=False,
    )  # fmt: skip


def _pyenv_root() -> str | None:
    root = os.environ.get("PYENV_ROOT")
    if root:
        return root
    parts = Path(sys.base_prefix).parts
    if "versions" in parts:  # <root>/versions/<version>
        return str(Path(*parts[: parts.index("versions")]))
    return None


def python_installations() -> tuple[list[str], list[str]]:
    """(folders, files) holding any Python on this machine, the checkout and venv included.

    Folders: the checkout, sys.prefix (the venv), sys.base_prefix and the pyenv root, every
    /usr/lib/python3*, /usr/local/lib/python3*, /usr/lib/python3/dist-packages' parents.
    Files: every libpython3* shared library and python3* executable in the system folders.
    """
    dirs = {str(REPO), sys.prefix, sys.base_prefix, os.path.realpath(sys.base_prefix)}
    root = _pyenv_root()
    if root:
        dirs.add(root)
    for pattern in ("/usr/lib/python3*", "/usr/local/lib/python3*", "/usr/lib64/python3*",
                    "/opt/python*", "/opt/pypy*"):  # fmt: skip
        dirs.update(glob.glob(pattern))
    files: set[str] = set()
    for pattern in ("/usr/lib/x86_64-linux-gnu/libpython3*", "/usr/local/lib/libpython3*",
                    "/lib/x86_64-linux-gnu/libpython3*", "/usr/bin/python3*",
                    "/usr/local/bin/python3*"):  # fmt: skip
        for f in glob.glob(pattern):
            real = os.path.realpath(f)
            if os.path.isfile(real):
                files.add(real)
    real_dirs = sorted({os.path.realpath(d) for d in dirs if os.path.isdir(d)})
    # A folder inside a hidden one is hidden already (and cannot be a mount point).
    outer = [d for d in real_dirs if not any(d.startswith(o + "/") for o in real_dirs)]
    files_left = sorted(f for f in files if not any(f.startswith(o + "/") for o in outer))
    return outer, files_left


def hidden_command(cmd: list[str], cwd: Path) -> list[str]:
    """``cmd`` in a private mount namespace where every Python installation is gone.

    Empty tmpfs over each folder of ``python_installations()``, /dev/null bound over each
    file; before running, the script checks that the hiding took effect (exit 97 if not).
    """
    dirs, files = python_installations()
    lines = ["set -eu"]
    for d in dirs:
        lines.append(f"mount -t tmpfs -o size=64k,mode=0755 gdhttp-hidden {shlex.quote(d)}")
        lines.append(f'[ -z "$(ls -A {shlex.quote(d)})" ] || exit 97')
    for f in files:
        lines.append(f"mount --bind /dev/null {shlex.quote(f)}")
        lines.append(f"[ ! -s {shlex.quote(f)} ] || exit 97")
    lines.append(f"cd {shlex.quote(str(cwd))}")
    lines.append("exec " + " ".join(shlex.quote(c) for c in cmd))
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(lines)]
