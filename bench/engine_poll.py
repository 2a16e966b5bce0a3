"""Idle poll() cost and a 256 MiB download, native HTTPClient vs PyHTTPClient, in one engine.

Run: ``.venv/bin/python bench/engine_poll.py [--size-mib 256] [--polls 200000]``
(needs ``make build`` and nginx). Prints a small table; never part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from servers import add_blob, start_nginx  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--polls", type=int, default=200000)
    args = parser.parse_args()
    godot = shutil.which("godot3-server") or "/usr/bin/godot3-server"
    with tempfile.TemporaryDirectory(prefix="gdhttp-bench-") as tmp:
        root = Path(tmp)
        server = start_nginx([("http", None)], prefix=root / "nginx", files_dir=root / "f")
        try:
            ep = server.endpoints["http"]
            name = f"bench-{args.size_mib}m.bin"
            add_blob(ep, name, args.size_mib * 1024 * 1024)
            env = {
                **os.environ,
                "HOME": tmp,
                "GDHTTP_PORT": str(ep.port),
                "GDHTTP_FILE": name,
                "GDHTTP_POLLS": str(args.polls),
            }
            proc = subprocess.run(
                [godot, "--path", str(REPO / "tests/engine/project"), "-s",
                 str(REPO / "bench/engine_poll.gd")],
                env=env, capture_output=True, text=True, timeout=600, check=False,
            )  # fmt: skip
        finally:
            server.stop()
    rows = [json.loads(ln[6:]) for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
    if proc.returncode != 0 or not rows:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        return 1
    print(f"{'metric':34} {'native':>12} {'py':>12}")
    for key in dict.fromkeys((r["metric"], r.get("chunk")) for r in rows):
        vals = {r["client"]: r["value"] for r in rows if (r["metric"], r.get("chunk")) == key}
        label = key[0] + (f" (chunk {key[1]})" if key[1] else "")
        print(f"{label:34} {vals.get('native', 0):12.3f} {vals.get('py', 0):12.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
