"""PyHTTPClient against the engine's own HTTPClient, side by side in one engine run.

Both clients run the same scenarios against the same nginx; everything a
script can observe must match, except the deviations listed in
docs/compatibility.md (named per scenario below).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from engine.godot_harness import GODOT, engine_version, ensure_addon, run_suite

from servers import RawServer, close, http_response, read_request, send

pytestmark = [
    pytest.mark.engine,
    pytest.mark.skipif(shutil.which(GODOT) is None, reason="godot3-server is not installed"),
]

GET, HEAD, POST, PUT = 0, 1, 2, 3


def _req(url: str, method: int = GET, **kw: Any) -> dict[str, Any]:
    return {"method": method, "url": url, **kw}


# name -> (target, requests, fields allowed to differ, extra options)
NO_DEVIATION: set[str] = set()
FORM = ["Content-Type: application/x-www-form-urlencoded"]

# name -> (target, requests, fields allowed to differ, extra options)
SCENARIOS: dict[str, tuple[str, list[dict[str, Any]], set[str], dict[str, Any]]] = {
    "get_index": ("http", [_req("/")], NO_DEVIATION, {}),
    "get_1k": ("http", [_req("/files/1k.bin")], NO_DEVIATION, {}),
    "get_64k_small_chunks": (
        "http",
        [_req("/files/64k.bin", max_chunk=4096)],
        NO_DEVIATION,
        {"chunk": 4096},
    ),
    "get_odd_size": ("http", [_req("/files/odd-100003.bin")], NO_DEVIATION, {}),
    "get_empty": ("http", [_req("/files/empty.bin")], NO_DEVIATION, {}),
    "get_chunked": ("http", [_req("/chunked/64k.bin")], NO_DEVIATION, {}),
    "get_gzip_raw": (
        "http",
        [_req("/gzip/text-64k.txt", headers=["Accept-Encoding: gzip"])],
        NO_DEVIATION,
        {},
    ),
    "get_404": ("http", [_req("/status/404")], NO_DEVIATION, {}),
    "get_204": ("http", [_req("/status/204")], NO_DEVIATION, {}),
    "head": ("http", [_req("/files/1k.bin", method=HEAD)], NO_DEVIATION, {}),
    "post_string": (
        "http",
        [_req("/post", method=POST, body="hello=world", headers=FORM)],
        NO_DEVIATION,
        {},
    ),
    "put_raw": ("http", [_req("/post", method=PUT, body="raw bytes", raw=True)], NO_DEVIATION, {}),
    "connection_close": ("http", [_req("/close/1k.bin")], NO_DEVIATION, {}),
    "keep_alive_reuse": (
        "http",
        [_req("/files/1k.bin"), _req("/"), _req("/status/404")],
        NO_DEVIATION,
        {},
    ),
    # The engine overwrites repeated keys in the Dictionary; the class reference
    # (and gdhttp) merge them as "v1; v2" (docs/compatibility.md).
    "repeated_headers": (
        "http",
        [_req("/headers/repeated", dict_first=True)],
        {"headers_dict"},
        {},
    ),
    "headers_dict": ("http", [_req("/files/1k.bin", dict_first=True)], NO_DEVIATION, {}),
    "big_header": ("http", [_req("/headers/big")], NO_DEVIATION, {}),
    "refused": ("refused", [_req("/")], NO_DEVIATION, {}),
    "https_no_verify": ("https", [_req("/files/1k.bin")], NO_DEVIATION, {"verify": False}),
    # Served by a raw server that records the request bytes (see test_request_bytes).
    "raw_get": (
        "raw",
        [_req("/r?q=1", headers=["X-One: 1", "Accept: text/plain"])],
        NO_DEVIATION,
        {},
    ),
    "raw_post": ("raw", [_req("/p", method=POST, body="a=1&b=2", headers=FORM)], NO_DEVIATION, {}),
    "raw_put_bytes": ("raw", [_req("/u", method=PUT, body="xyz", raw=True)], NO_DEVIATION, {}),
}
RAW_SCENARIOS = [name for name, spec in SCENARIOS.items() if spec[0] == "raw"]

IGNORED_HEADERS = ("date:",)  # differs between two requests a second apart


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def side_by_side(
    nginx_http: Any, nginx_https: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    ensure_addon()
    raw = RawServer([read_request(), send(http_response(200, b"ok")), close()])
    targets = {
        "raw": (raw.host, raw.port, False),
        "http": (nginx_http.host, nginx_http.port, False),
        "https": (nginx_https.host, nginx_https.port, True),
        "refused": ("127.0.0.1", _free_port(), False),
    }
    scenarios = []
    for name, (target, requests, _, options) in SCENARIOS.items():
        host, port, tls = targets[target]
        scenarios.append({"name": name, "host": host, "port": port, "tls": tls,
                          "requests": requests, **options})  # fmt: skip
    path = tmp_path_factory.mktemp("scenarios") / "scenarios.json"
    path.write_text(json.dumps(scenarios))
    try:
        run = run_suite(
            "http_side_by_side.gd",
            env={"GDHTTP_SCENARIO_FILE": str(path)},
            timeout=120,
            verbose=True,
        )
        raw.wait_done(2 * len(RAW_SCENARIOS), timeout=10)
        raw_requests = raw.requests
    finally:
        raw.close()
    assert run.returncode == 0, run.describe()
    assert run.leak_reports() == [], run.describe()
    results = {r["name"]: r for r in (json.loads(line) for line in run.lines("SCENARIO "))}
    # Scenarios run in order, native first: two connections per raw scenario.
    sent = {
        name: (raw_requests[2 * i], raw_requests[2 * i + 1]) for i, name in enumerate(RAW_SCENARIOS)
    }
    return {"results": results, "run": run, "root": Path(nginx_http.root), "sent": sent}


def _normalize(result: dict[str, Any], ignore: set[str]) -> dict[str, Any]:
    out = dict(result)
    out["responses"] = []
    for resp in result.get("responses", []):
        r = {k: v for k, v in resp.items() if k not in ignore}
        r["headers"] = [h for h in resp["headers"] if not h.lower().startswith(IGNORED_HEADERS)]
        if "headers_dict" in r:
            r["headers_dict"] = {
                k: v for k, v in r["headers_dict"].items() if k.lower() + ":" not in IGNORED_HEADERS
            }
        out["responses"].append(r)
    return out


def test_repeated_headers_merge(side_by_side: dict[str, Any]) -> None:
    resp = side_by_side["results"]["repeated_headers"]
    assert resp["native"]["responses"][0]["headers_dict"]["X-Multi"] == "two"  # engine: last wins
    assert resp["py"]["responses"][0]["headers_dict"]["X-Multi"] == "one; two"
    plain = side_by_side["results"]["headers_dict"]["py"]["responses"][0]["headers_dict"]
    assert plain["Content-Length"] == "1024"


def _split(request: bytes) -> tuple[bytes, list[bytes], bytes]:
    head, _, body = request.partition(b"\r\n\r\n")
    line, *fields = head.split(b"\r\n")
    return line, fields, body


@pytest.mark.parametrize("name", RAW_SCENARIOS)
def test_request_bytes(side_by_side: dict[str, Any], name: str) -> None:
    native, py = (_split(r) for r in side_by_side["sent"][name])
    assert b"User-Agent: GodotEngine/3." in b"\r\n".join(native[1])
    # Same request line, same fields, same body. From 3.5 on the native side is the
    # contract byte for byte; 3.2.3 alone puts Host first instead of after the user's headers.
    assert py[0] == native[0] and py[2] == native[2]
    if engine_version() >= (3, 5):
        assert py[1] == native[1]
        return
    assert sorted(py[1]) == sorted(native[1])
    without_host = [f for f in native[1] if not f.startswith(b"Host:")]
    assert [f for f in py[1] if not f.startswith(b"Host:")] == without_host


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_same_as_native(side_by_side: dict[str, Any], name: str) -> None:
    result = side_by_side["results"].get(name)
    assert result is not None, side_by_side["run"].describe()
    ignore = SCENARIOS[name][2]
    native, py = _normalize(result["native"], ignore), _normalize(result["py"], ignore)
    assert py == native


def test_bodies_are_the_files(side_by_side: dict[str, Any]) -> None:
    results = side_by_side["results"]
    checked = {
        "get_1k": "1k.bin",
        "get_odd_size": "odd-100003.bin",
        "get_64k_small_chunks": "64k.bin",
        "get_chunked": "64k.bin",
    }
    for name, file in checked.items():
        data = (side_by_side["root"] / file).read_bytes()
        resp = results[name]["py"]["responses"][0]
        assert resp["body_size"] == len(data), name
        # The suite hashes the hex text of the body (GDScript 3.2 has no bytes sha256).
        assert resp["body_sha256"] == hashlib.sha256(data.hex().encode()).hexdigest(), name


def test_read_chunk_size_bounds_every_read(side_by_side: dict[str, Any]) -> None:
    resp = side_by_side["results"]["get_64k_small_chunks"]["py"]["responses"][0]
    assert "oversized_chunk" not in resp
