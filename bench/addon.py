"""What shipping the addon costs: archive size, installed size, the extra engine start
time of loading it plus the first ``PyHTTPClient.new()``, and the memory it adds.

Two throwaway projects run round-robin with the same engine: a bare one whose
script quits at once, and one with the archive installed (``python -m gdhttp.addon
install``) whose script creates a ``PyHTTPClient`` first. Each run is a whole
process, spawn to exit; RSS is read from ``/proc/self/status`` just before quitting.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GODOT = os.environ.get("GDHTTP_GODOT", shutil.which("godot3-server") or "/usr/bin/godot3-server")
MIB = 1 << 20

_PROJECT = 'config_version=4\n\n[application]\n\nconfig/name="gdhttp start bench"\n'
_SCRIPT = """extends SceneTree

func rss_kib():
	var f = File.new()
	if f.open("/proc/self/status", File.READ) != OK:
		return -1
	var kib = -1
	while not f.eof_reached():
		var line = f.get_line()
		if line.begins_with("VmRSS:"):
			kib = int(line.split(":")[1].strip_edges().split(" ")[0])
	f.close()
	return kib

func _init():
%s
	print("RSS_KIB %%d" %% rss_kib())
	quit(0)
"""
_BARE = "\tpass"
_WITH_ADDON = """\tvar c = load("res://addons/gdhttp/PyHTTPClient.gdns").new()
\tif c == null or c.get_status() != 0:
\t\tprint("ADDON FAILED")
\t\tquit(1)
\t\treturn"""


def _project(root: Path, body: str) -> Path:
    root.mkdir(parents=True)
    (root / "project.godot").write_text(_PROJECT)
    (root / "start.gd").write_text(_SCRIPT % body)
    return root


def _run(project: Path, home: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, RSS KiB at the end) of one engine run.

    CPU time (user + system of the engine process) barely moves when other work
    shares the machine; wall time is what a player waits.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [GODOT, "--path", str(project), "-s", "res://start.gd"],
        capture_output=True, text=True, errors="replace", timeout=60, check=False,
        env={**os.environ, "HOME": str(home), "LC_ALL": "C.UTF-8"},
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    m = re.search(r"^RSS_KIB (\d+)", proc.stdout, re.M)
    if proc.returncode != 0 or m is None:
        raise RuntimeError(f"engine run failed ({proc.returncode}): {proc.stdout[-500:]}"
                           f"{proc.stderr[-1500:]}")  # fmt: skip
    return wall, cpu, int(m.group(1))


def measure(runs: int) -> list[dict[str, object]]:
    """Rows as bench/__main__.py records them (workload, impl, unit, samples)."""
    from gdhttp import addon

    with tempfile.TemporaryDirectory(prefix="gdhttp-bench-addon-") as tmp_s:
        tmp = Path(tmp_s)
        archive = addon.make_archive(tmp / "dist")
        bare = _project(tmp / "bare", _BARE)
        full = _project(tmp / "full", _WITH_ADDON)
        subprocess.run([sys.executable, "-m", "gdhttp.addon", "install", str(full),
                        "--archive", str(archive)], check=True, capture_output=True)  # fmt: skip
        installed = sum(p.stat().st_size for p in (full / "addons").rglob("*") if p.is_file())
        home = tmp / "home"
        home.mkdir()
        _run(bare, home)  # warm the page cache for both
        _run(full, home)
        walls: dict[str, list[float]] = {"bare": [], "full": []}
        cpus: dict[str, list[float]] = {"bare": [], "full": []}
        rss: dict[str, list[int]] = {"bare": [], "full": []}
        for _ in range(max(runs, 7)):  # round-robin: noise hits both sides
            for name, project in (("bare", bare), ("full", full)):
                wall, cpu, kib = _run(project, home)
                walls[name].append(wall * 1000)
                cpus[name].append(cpu * 1000)
                rss[name].append(kib)
        size = archive.stat().st_size
    extra = [f - b for f, b in zip(walls["full"], walls["bare"], strict=True)]
    extra_cpu = [f - b for f, b in zip(cpus["full"], cpus["bare"], strict=True)]
    added = [(f - b) / 1024 for f, b in zip(rss["full"], rss["bare"], strict=True)]
    return [
        {"workload": "addon archive size", "impl": archive.name, "unit": "MiB",
         "samples": [size / MIB]},
        {"workload": "addon installed size", "impl": "addons/gdhttp/", "unit": "MiB",
         "samples": [installed / MIB]},
        {"workload": "engine start + quit", "impl": "bare engine", "unit": "ms",
         "samples": walls["bare"]},
        {"workload": "engine start + quit", "impl": "addon + PyHTTPClient.new()", "unit": "ms",
         "samples": walls["full"]},
        {"workload": "addon extra start time", "impl": "addon + PyHTTPClient.new()",
         "unit": "ms", "samples": extra},
        {"workload": "addon extra start CPU time", "impl": "addon + PyHTTPClient.new()",
         "unit": "ms", "samples": extra_cpu},
        {"workload": "addon memory added (RSS)", "impl": "addon + PyHTTPClient.new()",
         "unit": "MiB", "samples": added},
        {"workload": "engine RSS at quit", "impl": "bare engine", "unit": "MiB",
         "samples": [k / 1024 for k in rss["bare"]]},
    ]  # fmt: skip


def main() -> int:
    for row in measure(int(os.environ.get("GDHTTP_BENCH_RUNS", "7"))):
        samples = row["samples"]
        assert isinstance(samples, list)
        print(f"{row['workload']:<28} {row['impl']:<28} {statistics.median(samples):8.2f} "
              f"{row['unit']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
