"""``pip install .`` gives the pure-Python package (no bridge binaries, no build
leftovers), and that package's ``python -m gdhttp.addon install`` works without the
checkout, from an archive."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import addonutil

REPO = addonutil.REPO


def test_pip_install_is_pure_python_and_can_install_the_addon(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, tree / name)
    # Build leftovers come along on purpose: the package config must leave them out.
    shutil.copytree(REPO / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "src" / "gdhttp" / "gdnative" / "_build").mkdir(exist_ok=True)
    (tree / "src" / "gdhttp" / "gdnative" / "_build" / "leftover.py").write_text("x = 1\n")
    wheels = tmp_path / "wheels"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(wheels), str(tree)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = wheels.glob("gdhttp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "gdhttp/__init__.py" in names and "gdhttp/addon.py" in names
    assert "gdhttp/py.typed" in names
    assert not [n for n in names if "_build" in n or n.endswith((".so", ".zip", ".c"))], names

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    project = addonutil.new_project(tmp_path / "game", install=False)
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = [sys.executable, "-m", "gdhttp.addon", "install", str(project)]
    # Outside a checkout there is nothing to build from: the archive must be named.
    proc = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 1
    assert "pass --archive" in proc.stderr
    proc = subprocess.run([*run, "--archive", str(addonutil.archive())], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (project / "addons" / "gdhttp" / "bin" / "libgdhttp.so").is_file()
