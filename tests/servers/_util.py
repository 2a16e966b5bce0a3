"""Shared plumbing for the loopback test servers: ports, waits, child processes."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"

# Bounded waits (seconds). A server that is not up by then is reported, never waited on forever.
STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 5.0


class ServerStartError(RuntimeError):
    """A test server could not be started (missing binary, bad config, port never opened)."""


def require_binary(name: str, debian_package: str) -> str:
    """Return the absolute path of `name` or raise a clear error naming the Debian package."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise ServerStartError(
            f"{name!r} not found on PATH; install the Debian package {debian_package!r} "
            f"(scripts/setup.sh / `make setup` does this)"
        )
    return path


def free_port(host: str = LOOPBACK) -> int:
    """A currently free TCP port on `host` (the usual bind-to-0 trick; callers retry on races)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def port_is_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def read_tail(path: Path, limit: int = 4000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", "replace")


def _die_with_parent() -> None:
    """In the child before exec: ask Linux for SIGTERM when the parent dies (best effort), so a
    test run killed with SIGKILL leaves no orphaned servers behind."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except Exception:
        pass


class ChildProcess:
    """A foreground server process with bounded startup and reliable teardown."""

    def __init__(self, argv: Sequence[str], *, name: str, log_path: Path, cwd: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal does not race our teardown
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_for_ports(
        self,
        ports: Sequence[int],
        host: str = LOOPBACK,
        timeout: float = STARTUP_TIMEOUT,
        extra_log: Path | None = None,
    ) -> None:
        deadline = time.monotonic() + timeout
        pending = list(ports)
        while pending:
            if self.proc.poll() is not None:
                self._fail(f"exited with code {self.proc.returncode} during startup", extra_log)
            if port_is_open(host, pending[0]):
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                self.stop()
                self._fail(f"did not open port(s) {pending} within {timeout:.0f} s", extra_log)
            time.sleep(0.02)

    def _fail(self, what: str, extra_log: Path | None) -> None:
        self._log.flush()
        details = read_tail(self.log_path)
        if extra_log is not None:
            details += read_tail(extra_log)
        raise ServerStartError(
            f"{self.name} ({' '.join(self.argv)}) {what}\n--- log ---\n{details}"
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=SHUTDOWN_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                self.proc.wait(timeout=SHUTDOWN_TIMEOUT)
        if not self._log.closed:
            self._log.close()

    def alive(self) -> bool:
        return self.proc.poll() is None


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
