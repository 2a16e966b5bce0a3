"""download_resume against raw servers: validated Range requests, never a spliced or lost file.

Each server script states the exact bytes sent; every test checks the partial file afterwards.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from gdhttp.constants import Error, Result
from gdhttp.request import HTTPRequest

from servers import (
    Action,
    RawServer,
    chunked,
    close,
    http_response,
    read_head,
    send,
)

Completion = tuple[int, int, list[str], bytes]
FULL = hashlib.sha256(b"resume").digest() * 64  # 2048 bytes, deterministic
SIDECAR = ".gdhttp-resume"


def fetch(target: Path, scripts: Sequence[Sequence[Action]]) -> tuple[Completion, RawServer,
                                                                       HTTPRequest]:
    """One resumable download of ``target`` against a server running ``scripts`` in turn."""
    srv = RawServer(scripts=list(scripts), io_timeout=10.0)
    with srv:
        r = HTTPRequest()
        r.download_file = str(target)
        r.download_resume = True
        done: list[Completion] = []
        r.request_completed.connect(lambda *args: done.append(args))  # type: ignore[arg-type]
        assert r.request(srv.url("/f")) == Error.OK
        deadline = time.monotonic() + 15
        while not done:
            assert time.monotonic() < deadline, "no completion"
            r.process(0.01)
            time.sleep(0.001)
        srv.wait_done(len(srv.connections))
    r.process(0.0)
    assert len(done) == 1
    return done[0], srv, r


def _header(request: bytes, name: str) -> str | None:
    for line in request.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def cut_short(etag: str = '"v1"', last_modified: str = "") -> list[Action]:
    """A 200 that promises FULL but closes after 1000 bytes (a dropped download)."""
    headers = [("ETag", etag)] if etag else []
    if last_modified:
        headers.append(("Last-Modified", last_modified))
    head = http_response(200, b"", headers, content_length=False)
    head = head[:-2] + f"Content-Length: {len(FULL)}\r\n\r\n".encode()
    return [read_head(), send(head + FULL[:1000]), close()]


def partial(first: int, last: int, body: bytes, total: int = len(FULL),
            framing: str = "length") -> list[Action]:
    headers = [("Content-Range", f"bytes {first}-{last}/{total}")]
    if framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        return [read_head(), send(http_response(206, chunked(body), headers,
                                                content_length=False))]
    return [read_head(), send(http_response(206, body, headers))]


def test_if_range_carries_the_recorded_etag(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    first, _, _ = fetch(target, [cut_short()])
    assert first[0] == Result.RESULT_CONNECTION_ERROR
    assert target.read_bytes() == FULL[:1000]
    assert json.loads((tmp_path / ("f.bin" + SIDECAR)).read_text())["etag"] == '"v1"'
    done, srv, _ = fetch(target, [partial(1000, 2047, FULL[1000:])])
    assert done[:2] == (Result.RESULT_SUCCESS, 206)
    assert _header(srv.requests[0], "Range") == "bytes=1000-"
    assert _header(srv.requests[0], "If-Range") == '"v1"'
    assert target.read_bytes() == FULL
    assert not (tmp_path / ("f.bin" + SIDECAR)).exists()  # complete: nothing to resume


def test_last_modified_when_the_etag_is_weak(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    stamp = "Tue, 01 Dec 2026 10:00:00 GMT"
    fetch(target, [cut_short(etag='W/"weak"', last_modified=stamp)])
    done, srv, _ = fetch(target, [partial(1000, 2047, FULL[1000:])])
    assert done[0] == Result.RESULT_SUCCESS
    assert _header(srv.requests[0], "If-Range") == stamp


def test_a_changed_resource_restarts_the_file(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    fetch(target, [cut_short()])
    new = FULL[::-1]  # the server's If-Range check failed: the whole new version
    done, srv, _ = fetch(target, [[read_head(), send(http_response(200, new,
                                                                     [("ETag", '"v2"')]))]])
    assert done[:2] == (Result.RESULT_SUCCESS, 200)
    assert _header(srv.requests[0], "If-Range") == '"v1"'
    assert target.read_bytes() == new  # never FULL[:1000] + new


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_206_shorter_than_its_content_range_fails(tmp_path: Path, framing: str) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(FULL[:1000])
    done, _, r = fetch(target, [partial(1000, 2047, b"short", framing=framing)])
    assert done[:2] == (Result.RESULT_REQUEST_FAILED, 206)
    assert "206" in r.get_error_message() or "Content-Range" in r.get_error_message()
    assert target.read_bytes()[:1000] == FULL[:1000]
    assert target.stat().st_size < len(FULL)  # not reported whole


@pytest.mark.parametrize(
    ("content_range", "why"),
    [
        ("bytes 0-2047/2048", "resumed at byte 0"),
        ("bytes 1000-1499/2048", "not the rest"),
        ("bytes 1000-2047/*", ""),  # unknown total: accepted when the body matches
        ("items 1000-2047/2048", "unusable"),
    ],
)
def test_206_content_range_is_checked(tmp_path: Path, content_range: str, why: str) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(FULL[:1000])
    first = int(content_range.split(" ")[1].split("-")[0])
    last = int(content_range.split("-")[1].split("/")[0])
    body = FULL[first : last + 1]
    script = [read_head(), send(http_response(206, body, [("Content-Range", content_range)]))]
    done, _, r = fetch(target, [script])
    if why:
        assert done[0] == Result.RESULT_REQUEST_FAILED
        assert why in r.get_error_message()
        assert target.read_bytes() == FULL[:1000]
    else:
        assert done[0] == Result.RESULT_SUCCESS
        assert target.read_bytes() == FULL


@pytest.mark.parametrize(("total", "result"), [(1000, Result.RESULT_SUCCESS),
                                               (5000, Result.RESULT_REQUEST_FAILED),
                                               (None, Result.RESULT_REQUEST_FAILED)])
def test_416_is_success_only_when_the_file_is_whole(tmp_path: Path, total: int | None,
                                                    result: Result) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(FULL[:1000])
    headers = [("Content-Range", f"bytes */{total}")] if total is not None else []
    done, _, _ = fetch(target, [[read_head(), send(http_response(416, b"nope", headers))]])
    assert done[:2] == (result, 416)
    assert target.read_bytes() == FULL[:1000]


@pytest.mark.parametrize("code", [404, 503])
def test_error_status_keeps_the_partial_file(tmp_path: Path, code: int) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(FULL[:1000])
    page = b"<h1>temporarily unavailable</h1>"
    done, _, _ = fetch(target, [[read_head(), send(http_response(code, page))]])
    assert done[:2] == (Result.RESULT_SUCCESS, code)
    assert done[3] == page  # the error page goes to the completion, not over the file
    assert target.read_bytes() == FULL[:1000]


def test_huge_error_body_is_capped_and_leaves_the_file(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(FULL[:1000])
    body = b"e" * (3 << 20)
    done, _, r = fetch(target, [[read_head(), send(http_response(503, body))]])
    assert done[:2] == (Result.RESULT_BODY_SIZE_LIMIT_EXCEEDED, 503)
    assert "during resume" in r.get_error_message()
    assert target.read_bytes() == FULL[:1000]


def test_200_to_a_ranged_request_restarts_from_zero(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"stale bytes that must go")
    done, srv, _ = fetch(target, [[read_head(), send(http_response(200, FULL))]])
    assert done[:2] == (Result.RESULT_SUCCESS, 200)
    assert _header(srv.requests[0], "Range") == "bytes=24-"
    assert _header(srv.requests[0], "If-Range") is None  # nothing recorded for this file
    assert target.read_bytes() == FULL
