"""Engine workloads: one godot3-server run drives native and Py classes side by side."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent / "engine_project"
GODOT = os.environ.get("GDHTTP_GODOT", shutil.which("godot3-server") or "/usr/bin/godot3-server")


def engines() -> list[tuple[str, str]]:
    """(label, binary): Debian 12's Godot 3.2.3, then Debian 13's 3.6 if it can be fetched."""
    found = [("", GODOT)]
    if "GDHTTP_GODOT" not in os.environ:
        script = Path(__file__).resolve().parents[1] / "scripts" / "engines.sh"
        proc = subprocess.run([str(script)], capture_output=True, text=True, check=False)
        if proc.returncode == 0 and proc.stdout.strip():
            found.append(("3.6: ", proc.stdout.strip().splitlines()[-1]))
        else:
            print("  engine: Godot 3.6 unavailable:", proc.stderr.strip()[-300:], flush=True)
    return found


def run_all(http: tuple[str, int], https: tuple[str, int], ca: str, files: dict[str, int],
            runs: int, godot: str = GODOT) -> list[dict[str, Any]]:
    rows = _run(http, https, ca, files, runs, "", godot)
    return rows + _run(http, https, ca, files, runs, "rss", godot)


def _run(http: tuple[str, int], https: tuple[str, int], ca: str, files: dict[str, int],
         runs: int, mode: str, godot: str) -> list[dict[str, Any]]:
    # The native client trusts only the project's CA setting; override.cfg sets it.
    (PROJECT / "override.cfg").write_text(f'[network]\n\nssl/certificates="{ca}"\n')
    with tempfile.TemporaryDirectory(prefix="gdbench-engine-") as tmp:
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps({
            "host": http[0], "http_port": http[1], "https_port": https[1], "ca": ca,
            "runs": runs, "size_256m": files["256m.bin"], "size_1g": files["1g.bin"],
            "size_32m": files["32m.bin"], "tmp": tmp, "mode": mode,
        }))
        env = {**os.environ, "GDHTTP_BENCH_CONFIG": str(config), "HOME": tmp,
               "LC_ALL": "C.UTF-8"}
        proc = subprocess.run([godot, "--path", str(PROJECT), "-s", "bench.gd"],
                              capture_output=True, text=True, errors="replace", env=env,
                              timeout=3600, check=False)
    _ended(proc)
    return _rows_from(proc.stdout)


# --- sessions (issue 12): bench/engine_project/session.gd -------------------------------------

SESSION_PATH = "/files/1k.bin"
SESSION_BODY = 1024
IDLE_CONNECTIONS = 6  # the default per-origin limit: one burst leaves this many pooled
IDLE_FRAMES = 200  # frames per idle window (about 1.4 s at the server's ~7 ms idle frame)
STRACE_LINE = re.compile(r"^(\d+)\s+(?:<\.\.\. )?(\w+)(?:\(| resumed>)")


def _session_env(tmp: str, config: dict[str, Any]) -> dict[str, str]:
    path = Path(tmp) / "config.json"
    path.write_text(json.dumps({"tmp": tmp, "path": SESSION_PATH, "body_size": SESSION_BODY,
                                **config}))
    return {**os.environ, "GDHTTP_BENCH_CONFIG": str(path), "HOME": tmp, "LC_ALL": "C.UTF-8"}


def _rows_from(stdout: str) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for line in stdout.splitlines():
        if line.startswith(("BENCH_ERROR", "BENCH_INFO")):
            print("  engine:", line, flush=True)
        if not line.startswith("BENCH_ROW "):
            continue
        item = json.loads(line[len("BENCH_ROW "):])
        if item["value"] is None or item["value"] < 0:
            continue
        key = (item["workload"], item["impl"])
        row = rows.setdefault(key, {"workload": key[0], "impl": key[1], "unit": item["unit"],
                                    "samples": []})
        row["samples"].append(float(item["value"]))
    return list(rows.values())


def _ended(proc: subprocess.CompletedProcess[str]) -> None:
    if "BENCH_DONE" not in proc.stdout:
        print(f"  engine run ended early (rc={proc.returncode}):", flush=True)
        print("\n".join((proc.stdout + proc.stderr).splitlines()[-30:]), flush=True)


def run_session(https: tuple[str, int], relay_port: int, rtt_ms: float, ca: str, runs: int,
                godot: str = GODOT, count: int = 100, burst: int = 64) -> list[dict[str, Any]]:
    """Sequential GETs (one node, fresh nodes; loopback and relayed) and a relayed burst."""
    (PROJECT / "override.cfg").write_text(f'[network]\n\nssl/certificates="{ca}"\n')
    with tempfile.TemporaryDirectory(prefix="gdbench-session-") as tmp:
        env = _session_env(tmp, {
            "mode": "session", "https_port": https[1], "relay_port": relay_port, "ca": ca,
            "runs": runs, "count": count, "burst": burst,
            "rtt_label": f"{rtt_ms:g} ms RTT"})
        proc = subprocess.run([godot, "--path", str(PROJECT), "-s", "session.gd"],
                              capture_output=True, text=True, errors="replace", env=env,
                              timeout=3600, check=False)
    _ended(proc)
    return _rows_from(proc.stdout)


def run_h2(https: tuple[str, int], relay_port: int, rtt_ms: float, ca: str, runs: int,
           godot: str = GODOT, burst: int = 64) -> list[dict[str, Any]]:
    """Issue 13: relayed bursts, native vs the HTTP/1.1 pool vs an h2 session (session.gd)."""
    (PROJECT / "override.cfg").write_text(f'[network]\n\nssl/certificates="{ca}"\n')
    with tempfile.TemporaryDirectory(prefix="gdbench-h2-") as tmp:
        env = _session_env(tmp, {
            "mode": "h2", "https_port": https[1], "relay_port": relay_port, "ca": ca,
            "runs": runs, "count": burst, "burst": burst, "rtt_label": f"{rtt_ms:g} ms RTT"})
        proc = subprocess.run([godot, "--path", str(PROJECT), "-s", "session.gd"],
                              capture_output=True, text=True, errors="replace", env=env,
                              timeout=3600, check=False)
    _ended(proc)
    return _rows_from(proc.stdout)


def run_idle(https: tuple[str, int], ca: str, runs: int,
             godot: str = GODOT) -> list[dict[str, Any]]:
    """Syscalls per idle frame, counted by strace between markers the engine stat()s.

    /proc/self/io would be cheaper but counts only the read()/write() family: recv, send,
    poll and epoll calls on idle sockets (what a pool could cost per frame) are not in it.
    strace -f sees every thread; it slows the process but not the count.
    """
    strace = shutil.which("strace")
    if strace is None:
        print("  engine: strace not found: idle-frame syscalls not measured", flush=True)
        return []
    (PROJECT / "override.cfg").write_text(f'[network]\n\nssl/certificates="{ca}"\n')
    with tempfile.TemporaryDirectory(prefix="gdbench-idle-") as tmp:
        env = _session_env(tmp, {
            "mode": "idle", "https_port": https[1], "relay_port": 0, "ca": ca, "runs": runs,
            "idle_connections": IDLE_CONNECTIONS, "idle_frames": IDLE_FRAMES,
            "rtt_label": ""})
        trace = Path(tmp) / "strace.txt"
        proc = subprocess.run([strace, "-f", "-qq", "-o", str(trace), godot, "--path",
                               str(PROJECT), "-s", "session.gd"],
                              capture_output=True, text=True, errors="replace", env=env,
                              timeout=1800, check=False)
        _ended(proc)
        _rows_from(proc.stdout)  # only for its report of BENCH_ERROR lines
        windows = [json.loads(line[len("BENCH_IDLE "):]) for line in proc.stdout.splitlines()
                   if line.startswith("BENCH_IDLE ")]
        counts = _count_windows(trace, [w["tag"] for w in windows])
    names = {"baseline": "engine alone, no connection",
             "native": f"native HTTPRequest, after {IDLE_CONNECTIONS} requests",
             "py": f"PyHTTPRequest, after {IDLE_CONNECTIONS} requests"}
    rows: dict[str, dict[str, Any]] = {}
    pooled: list[float] = []
    for w in windows:
        calls = counts.get(w["tag"])
        if calls is None:
            continue
        impl = names[w["label"]]
        row = rows.setdefault(impl, {"workload": "idle frame: syscalls per frame", "impl": impl,
                                     "unit": "calls", "samples": [], "by_call": {}})
        row["samples"].append(sum(calls.values()) / w["frames"])
        for name, n in calls.items():
            row["by_call"][name] = row["by_call"].get(name, 0) + n
        if w["label"] == "py" and w["pooled_idle"] >= 0:
            pooled.append(float(w["pooled_idle"]))
    for row in rows.values():  # what the frames spent their calls on, for the log
        top = sorted(row.pop("by_call").items(), key=lambda kv: -kv[1])[:6]
        print(f"  idle calls, {row['impl']}: " + ", ".join(f"{k} {v}" for k, v in top),
              flush=True)
    out = list(rows.values())
    if pooled:
        out.append({"workload": "idle frame: pooled idle connections", "impl": "PyHTTPRequest",
                    "unit": "conns", "samples": pooled})
    return out


def _count_windows(trace: Path, tags: list[str]) -> dict[str, dict[str, int]]:
    """Syscalls by name between each MARK-begin-<tag> and MARK-end-<tag> line."""
    counts: dict[str, dict[str, int]] = {}
    current: dict[str, int] | None = None
    wanted = set(tags)
    try:
        handle = trace.open(errors="replace")
    except OSError:
        return counts
    with handle:
        for line in handle:
            if "MARK-" in line:
                m = re.search(r"MARK-(begin|end)-([\w-]+)", line)
                if m and m.group(2) in wanted:
                    begin = m.group(1) == "begin"
                    current = counts.setdefault(m.group(2), {}) if begin else None
                continue
            if current is None or "resumed>" in line:
                continue  # a resumed call was counted when it started
            m = STRACE_LINE.match(line)
            if m:
                current[m.group(2)] = current.get(m.group(2), 0) + 1
    return counts
