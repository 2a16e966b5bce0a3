"""Engine workloads: one godot3-server run drives native and Py classes side by side."""

from __future__ import annotations

import json
import os
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
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_ERROR"):
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
    if "BENCH_DONE" not in proc.stdout:
        print(f"  engine run ended early (rc={proc.returncode}):", flush=True)
        print("\n".join((proc.stdout + proc.stderr).splitlines()[-30:]), flush=True)
    return list(rows.values())
