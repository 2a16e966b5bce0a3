"""Start the standard loopback servers outside pytest and describe them as JSON.

    .venv/bin/python -m tests.servers [--dir DIR] [--json FILE]

Prints one JSON line on stdout once everything listens ({"nginx": {"http": {...}, "https":
..., "tls13": ..., "tls12": ...}, "tinyproxy": {...}, "tinyproxy_auth": {...},
"ca_pem_path": ...}), optionally also writes it to FILE, then runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

from . import (
    PROXY_PASSWORD,
    PROXY_USER,
    STANDARD_NGINX_BLOCKS,
    make_tls_material,
    start_nginx,
    start_tinyproxy,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.servers")
    ap.add_argument("--dir", type=Path, default=None, help="work dir (default: a new tmp dir)")
    ap.add_argument("--json", type=Path, default=None, help="also write the description here")
    args = ap.parse_args(argv)
    work: Path = args.dir or Path(tempfile.mkdtemp(prefix="gdhttp-servers-"))
    work.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    tls = make_tls_material(work / "tls")
    nginx = start_nginx(STANDARD_NGINX_BLOCKS, prefix=work / "nginx", files_dir=work / "blobs",
                        cert_path=tls.cert_pem_path, key_path=tls.key_pem_path,
                        ca_pem_path=tls.ca_pem_path)
    proxies = []
    try:
        proxies.append(start_tinyproxy(prefix=work / "tinyproxy"))
        proxies.append(start_tinyproxy(prefix=work / "tinyproxy-auth",
                                       user=PROXY_USER, password=PROXY_PASSWORD))
        desc = {
            "nginx": {k: v.as_dict() for k, v in nginx.endpoints.items()},
            "tinyproxy": proxies[0].as_dict(),
            "tinyproxy_auth": proxies[1].as_dict(),
            "ca_pem_path": str(tls.ca_pem_path),
            "dir": str(work),
        }
        text = json.dumps(desc)
        if args.json:
            args.json.write_text(text + "\n")
        print(text, flush=True)
        while not stop.wait(0.5):
            if not nginx.alive() or not all(p.alive() for p in proxies):
                print("a server died; exiting", file=sys.stderr)
                return 1
        return 0
    finally:
        for p in proxies:
            p.stop()
        nginx.stop()


if __name__ == "__main__":
    sys.exit(main())
