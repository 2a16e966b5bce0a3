"""PyHTTPRequest against the engine's own HTTPRequest, side by side in one engine run.

Every ``Result`` a server can cause, with ``use_threads`` off and on, against
the same loopback servers. Where the two differ by design (docs/demo.md,
docs/compatibility.md), the scenario names the difference and both sides are
checked against their own expectation.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from engine.godot_harness import GODOT, ensure_addon, run_suite

from servers import RawServer, read_head, silent

pytestmark = [
    pytest.mark.engine,
    pytest.mark.skipif(shutil.which(GODOT) is None, reason="godot3-server is not installed"),
]

SUCCESS, CANT_CONNECT, CANT_RESOLVE, SSL_HANDSHAKE = 0, 2, 3, 5
BODY_SIZE_LIMIT, FILE_CANT_OPEN, REDIRECT_LIMIT, TIMEOUT = 7, 9, 11, 12
POST = 2

# name -> (target, path, options, expected (result, code) for both, or per side)
Expect = tuple[int, int]
SCENARIOS: dict[str, tuple[str, str, dict[str, Any], Expect | dict[str, Expect]]] = {
    "success": ("http", "/files/1k.bin", {}, (SUCCESS, 200)),
    "success_64k": ("http", "/files/64k.bin", {}, (SUCCESS, 200)),
    "chunked": ("http", "/chunked/64k.bin", {}, (SUCCESS, 200)),
    "not_found": ("http", "/status/404", {}, (SUCCESS, 404)),
    "no_content": ("http", "/status/204", {}, (SUCCESS, 204)),
    "post": ("http", "/post-echo", {"method": POST, "body": "a=1&b=2"}, (SUCCESS, 200)),
    "redirect_chain": ("http", "/redirect-chain/3", {}, (SUCCESS, 200)),
    "redirect_302": ("http", "/redirect/302", {}, (SUCCESS, 200)),
    # The engine follows only 301/302; PyHTTPRequest follows 303/307/308 too (RFC 9110).
    "redirect_307": ("http", "/redirect/307", {}, {"native": (SUCCESS, 307), "py": (SUCCESS, 200)}),
    "redirect_308": ("http", "/redirect/308", {}, {"native": (SUCCESS, 308), "py": (SUCCESS, 200)}),
    "redirect_limit": (
        "http", "/redirect-loop", {"opts": {"max_redirects": 3}}, (REDIRECT_LIMIT, 302)
    ),
    "redirect_limit_zero": (
        "http", "/redirect-chain/1", {"opts": {"max_redirects": 0}}, (REDIRECT_LIMIT, 302)
    ),
    "body_size_limit": (
        "http", "/files/64k.bin", {"opts": {"body_size_limit": 1000}}, (BODY_SIZE_LIMIT, 200)
    ),
    "body_size_limit_chunked": (
        "http", "/chunked/64k.bin", {"opts": {"body_size_limit": 1000}}, (BODY_SIZE_LIMIT, 200)
    ),
    # Without Accept-Encoding nginx sends identity; PyHTTPRequest asks for gzip
    # and decodes it: the body is the same bytes either way.
    "gzip_same_body": ("http", "/gzip/text-64k.txt", {}, (SUCCESS, 200)),
    "download_file": (
        "http", "/files/64k.bin", {"opts": {"download_file": "{dir}/dl-{who}.bin"}}, (SUCCESS, 200)
    ),
    "download_file_cant_open": (
        "http", "/files/1k.bin",
        {"opts": {"download_file": "/nonexistent-gdhttp-dir/x.bin"}}, (FILE_CANT_OPEN, 200),
    ),
    "cant_connect": ("refused", "/", {}, (CANT_CONNECT, 0)),
    "cant_resolve": ("unresolvable", "/", {}, (CANT_RESOLVE, 0)),
    "tls_untrusted_ca": ("https", "/files/1k.bin", {}, (SSL_HANDSHAKE, 0)),
    "tls_no_validation": ("https", "/files/1k.bin", {"validate": False}, (SUCCESS, 200)),
    # Per-request CA bundles are gdhttp's; the engine has only a project-wide one.
    "tls_trusted_ca_py": ("https", "/files/1k.bin", {"py_ca": True, "skip": ["native"]},
                          {"py": (SUCCESS, 200)}),
    "timeout": ("silent", "/", {"opts": {"timeout": 1}}, (TIMEOUT, 0)),
    # Streamed upload from disk with upload_progress: gdhttp only.
    "upload_file_py": ("http", "/upload/engine-request-{who}.bin",
                       {"upload_file": True, "skip": ["native"]}, {"py": (SUCCESS, 201)}),
    "download_progress_py": ("http", "/files/1m.bin", {"skip": ["native"]},
                             {"py": (SUCCESS, 200)}),
}
UPLOAD_SIZE = 3 * 1024 * 1024 + 17


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def side_by_side(
    nginx_http: Any, nginx_https: Any, tls_material: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    ensure_addon()
    work = tmp_path_factory.mktemp("request-engine")
    # Two timeout runs per threading mode (native, py); each holds its connection open.
    silent_server = RawServer([read_head(), silent(4)], max_connections=16)
    bases = {
        "http": nginx_http.url("").rstrip("/"),
        "https": nginx_https.url("").rstrip("/"),
        "refused": f"http://127.0.0.1:{_free_port()}",
        "unresolvable": "http://gdhttp-no-such-host.invalid",
        "silent": silent_server.url("").rstrip("/"),
    }
    scenarios = []
    for name, (target, path, options, _) in SCENARIOS.items():
        sc: dict[str, Any] = {"name": name, "url": bases[target] + path}
        for key in ("method", "body", "validate", "skip"):
            if key in options:
                sc[key] = options[key]
        if options.get("upload_file"):
            upload = work / "upload.bin"
            upload.write_bytes(bytes(range(256)) * (UPLOAD_SIZE // 256) + b"x" * 17)
            sc["upload_file"] = str(upload)
        if options.get("py_ca"):
            sc["py_ca"] = str(tls_material.ca_pem_path)
        opts = dict(options.get("opts", {}))
        if "download_file" in opts:
            opts["download_file"] = opts["download_file"].replace("{dir}", str(work))
        sc["opts"] = opts
        scenarios.append(sc)
    path = work / "scenarios.json"
    path.write_text(json.dumps(scenarios))
    try:
        run = run_suite(
            "request_side_by_side.gd", env={"GDHTTP_SCENARIO_FILE": str(path)}, timeout=180
        )
    finally:
        silent_server.close()
    assert run.returncode == 0, run.describe()
    results: dict[tuple[str, bool], dict[str, Any]] = {}
    for line in run.lines("SCENARIO "):
        r = json.loads(line)
        results[(r["name"], r["threads"])] = r
    return {"results": results, "run": run, "root": Path(nginx_http.root), "work": work,
            "upload_dir": Path(nginx_http.upload_dir)}


PARAMS = [(name, threads) for name in SCENARIOS for threads in (False, True)]


def _expected(name: str, side: str) -> Expect | None:
    want = SCENARIOS[name][3]
    if isinstance(want, dict):
        return want.get(side)
    return want


@pytest.mark.parametrize(("name", "threads"), PARAMS)
def test_result_matches(side_by_side: dict[str, Any], name: str, threads: bool) -> None:
    result = side_by_side["results"].get((name, threads))
    assert result is not None, side_by_side["run"].describe()
    for side in ("native", "py"):
        want = _expected(name, side)
        if want is None:
            assert side not in result
            continue
        got = result[side]
        assert got["err"] == 0, (side, got)
        assert got["sync_signals"] == 0, (side, "completion must be deferred")
        assert got["signals"] == 1, (side, got)
        assert (got["result"], got["code"]) == want, (side, got)
        assert got["headers_type"] == 23 and got["body_type"] == 20, (side, got)  # Pool*Array
        assert got["status_after"] == 0, (side, got)  # client closed after completion


AGREE_ON_BODY = [
    "success", "success_64k", "chunked", "not_found", "no_content", "post", "redirect_chain",
    "redirect_302", "gzip_same_body", "tls_no_validation", "body_size_limit",
    "redirect_limit", "cant_connect", "cant_resolve", "tls_untrusted_ca", "timeout",
]  # fmt: skip


@pytest.mark.parametrize("name", AGREE_ON_BODY)
@pytest.mark.parametrize("threads", [False, True])
def test_same_body_as_native(side_by_side: dict[str, Any], name: str, threads: bool) -> None:
    r = side_by_side["results"][(name, threads)]
    for key in ("body_size", "body_sha256"):
        assert r["py"][key] == r["native"][key], key


def test_bodies_are_the_files(side_by_side: dict[str, Any]) -> None:
    data = (side_by_side["root"] / "64k.bin").read_bytes()
    for threads in (False, True):
        for name in ("success_64k", "chunked"):
            py = side_by_side["results"][(name, threads)]["py"]
            assert py["body_size"] == len(data)
            assert py["body_sha256"] == hashlib.sha256(data.hex().encode()).hexdigest()
        dl = side_by_side["results"][("download_file", threads)]
        for side in ("native", "py"):
            assert dl[side]["body_size"] == 0  # the body went to the file
            assert dl[side]["file_size"] == len(data)
            assert dl[side]["file_sha256"] == hashlib.sha256(data.hex().encode()).hexdigest()
            assert dl[side]["downloaded"] == len(data)
            assert dl[side]["body_size_reported"] == len(data)


def test_body_size_and_downloaded_counters(side_by_side: dict[str, Any]) -> None:
    for threads in (False, True):
        r = side_by_side["results"][("success", threads)]
        for key in ("downloaded", "body_size_reported"):
            assert r["py"][key] == r["native"][key] == 1024, key


def test_body_size_after_the_redirect_limit_is_unknown(side_by_side: dict[str, Any]) -> None:
    """The engine never reads a redirect's body length: get_body_size() stays -1."""
    for threads in (False, True):
        for name in ("redirect_limit", "redirect_limit_zero"):
            r = side_by_side["results"][(name, threads)]
            assert r["py"]["body_size_reported"] == r["native"]["body_size_reported"] == -1, name


def test_api_suite() -> None:
    ensure_addon()
    run = run_suite("request_api.gd", timeout=60)
    assert run.returncode == 0 and not run.failed, run.describe()
    assert len(run.passed) == 39, run.describe()  # every check of request_api.gd ran


def test_upload_file_streamed_with_progress(side_by_side: dict[str, Any]) -> None:
    data = (side_by_side["work"] / "upload.bin").read_bytes()
    for threads in (False, True):
        py = side_by_side["results"][("upload_file_py", threads)]["py"]
        stored = side_by_side["upload_dir"] / f"engine-request-py-{threads}.bin"
        assert stored.read_bytes() == data
        assert py["upload_progress"] == [len(data), len(data)]
        assert py["upload_reports"] >= 1


def test_download_progress(side_by_side: dict[str, Any]) -> None:
    for threads in (False, True):
        py = side_by_side["results"][("download_progress_py", threads)]["py"]
        assert py["download_progress"] == [1024 * 1024, 1024 * 1024]
        assert py["download_reports"] >= 1
