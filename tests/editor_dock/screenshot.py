"""Take docs/editor-dock.png: the dock in the real editor (Xvfb) showing a JSON response
fetched over HTTPS from a loopback server, with its timings. Run by scripts/dock_screenshot.sh."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from dockserver import Servers  # noqa: E402
from test_editor_dock import make_project, run_editor  # noqa: E402

from servers import make_tls_material  # noqa: E402


def main(out: Path) -> int:
    tabs = [int(t) for t in os.environ.get("GDHTTP_DOCK_TABS", "0,0").split(",")]
    from engine.godot_harness import ensure_addon

    ensure_addon()
    with tempfile.TemporaryDirectory(prefix="gdhttp-dock-shot-") as tmp:
        root = Path(tmp)
        servers = Servers(make_tls_material(root / "tls"))
        try:
            project = make_project(root)
            config = {"http": servers.url(), "https": servers.url(tls=True),
                      "ca_file": servers.ca_file, "cases": ["case_screenshot"],
                      "screenshot": str(out.resolve()),
                      # Which tabs show (0: Headers and Body): GDHTTP_DOCK_TABS="2,2".
                      "request_tab": tabs[0], "response_tab": tabs[1]}
            results, _ = run_editor(project, config, root / "home", "1920x1080")
        finally:
            servers.close()
    if results.get("screenshot") != 0 or results["errors"]:
        print(f"screenshot failed: {results}", file=sys.stderr)
        return 1
    print(f"screenshot: {out} {results['screenshot_size']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else TESTS.parent / "docs"
                  / "editor-dock.png"))
