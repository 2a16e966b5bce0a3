"""The HTTP dock's snippets (addons/gdhttp/dock/snippets.gd) in godot3-server: secrets
masked for history, proxies parsed, "Copy as GDScript" code compiled and run against a
loopback echo server with a body full of quoting traps, and "Copy as curl" parsed by
shlex and run by curl against the same server."""

from __future__ import annotations

import base64
import shlex
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from dockserver import Servers
from engine.godot_harness import ensure_addon, run_suite

from servers import TLSMaterial

pytestmark = [pytest.mark.engine]

NASTY = "quote \" backslash \\ tab \t cr \r nl \n dollar $ percent %s % brace {} é ü 🙂 '"


@pytest.fixture(scope="module")
def servers(tls_material: TLSMaterial) -> Iterator[Servers]:
    made = Servers(tls_material)
    yield made
    made.close()


def test_snippets_suite(servers: Servers) -> None:
    ensure_addon()
    run = run_suite("res://dock_snippets_suite.gd", timeout=90,
                    env={"GDHTTP_DOCK_ECHO": servers.url() + "/echo"})
    assert run.returncode == 0 and not run.failed, run.describe()
    assert len(run.passed) >= 17, run.describe()
    # The curl command of the same request: one shell word per argument, same bytes out.
    (line,) = run.lines("CURL ")
    words = shlex.split(base64.b64decode(line).decode())
    assert words[:4] == ["curl", "-X", "POST", servers.url() + "/echo"]
    assert words[words.index("-H") + 1] == "X-Nasty: it's \"quoted\" \\ $HOME"
    assert words[words.index("--data-binary") + 1] == NASTY
    assert "--compressed" not in words and float(words[words.index("--max-time") + 1]) == 20
    curl = shutil.which("curl")
    assert curl, "curl is installed by make setup"
    out = subprocess.run([curl, "-sS", "-i", *words[1:]], capture_output=True, timeout=30,
                         check=True).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"X-Method: POST" in head
    assert body.decode() == NASTY
