"""Run GDScript suites in the real engine (``godot3-server -s``) and read their results.

A suite prints ``PASS <name>`` / ``FAIL <name>: <why>`` lines and ends with
``RESULT passed=<n> failed=<m>``; its exit code is 0 only when nothing failed.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "tests" / "engine" / "project"
GODOT = os.environ.get("GDHTTP_GODOT", shutil.which("godot3-server") or "/usr/bin/godot3-server")
LEAK_MARKERS = (
    "ObjectDB instances leaked",
    "Leaked instance",
    "leaked at exit",
    "Resources still in use",
    "Resource still in use",
)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    result_line: str = ""

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def lines(self, prefix: str) -> list[str]:
        return [ln[len(prefix) :] for ln in self.stdout.splitlines() if ln.startswith(prefix)]

    def script_errors(self) -> list[str]:
        """Lines that show a GDScript error or a Python exception reaching the engine."""
        return [ln for ln in self.output.splitlines()
                if "Traceback" in ln or "SCRIPT ERROR" in ln or "Python exception" in ln]

    def leak_reports(self) -> list[str]:
        return [ln for ln in self.output.splitlines() if any(m in ln for m in LEAK_MARKERS)]

    def describe(self) -> str:
        tail = "\n".join(self.output.splitlines()[-60:])
        return f"rc={self.returncode} failed={self.failed}\n--- output tail ---\n{tail}"


@functools.cache
def engine_version() -> tuple[int, int]:
    """(major, minor) of the engine under test, from ``--version`` ("3.6.stable...")."""
    out = subprocess.run([GODOT, "--version"], capture_output=True, text=True, timeout=60,
                         check=False).stdout
    match = re.search(r"(\d+)\.(\d+)", out)
    assert match, f"{GODOT} --version said {out!r}"
    return int(match[1]), int(match[2])


def ensure_addon() -> None:
    """Build the bridge if needed (fast when up to date) and link the addon in."""
    from gdhttp.gdnative import build

    build.build()
    link = PROJECT / "addons"
    if not link.exists():  # the symlink is in git; recreate it if a checkout dropped it
        link.symlink_to(Path("..") / ".." / ".." / "addons", target_is_directory=True)


def run_suite(
    script: str,
    *,
    timeout: float = 90,
    env: dict[str, str] | None = None,
    verbose: bool = False,
    project: Path = PROJECT,
) -> Run:
    # A missing engine is an error, never a skip: `make setup` installs it.
    assert shutil.which(GODOT) or os.access(GODOT, os.X_OK), f"{GODOT} not found: run make setup"
    with tempfile.TemporaryDirectory(prefix="gdhttp-godot-home-") as home:
        full_env = {
            **os.environ,
            "HOME": home,  # the engine writes its user data here, not in the real home
            "LC_ALL": "C.UTF-8",
            **(env or {}),
        }
        cmd = [GODOT, "--path", str(project), "-s", script]
        if verbose:
            cmd.insert(1, "--verbose")
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, errors="replace", timeout=timeout,
                env=full_env, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout or ""
            text = out.decode(errors="replace") if isinstance(out, bytes) else out
            msg = f"{script} did not finish in {timeout}s:\n{text[-4000:]}"
            raise AssertionError(msg) from None
    run = Run(proc.returncode, proc.stdout, proc.stderr)
    run.passed = run.lines("PASS ")
    run.failed = run.lines("FAIL ")
    results = re.findall(r"^RESULT .*$", proc.stdout, re.M)
    run.result_line = results[-1] if results else ""
    return run
