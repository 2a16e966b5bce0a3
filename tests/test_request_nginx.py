"""HTTPRequest against real servers: nginx (files, gzip, Range, WebDAV PUT, redirects, TLS)
and tinyproxy (HTTP and HTTPS proxies, with auth). Fixtures come from tests/conftest.py."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gdhttp.constants import Error, Method, Result
from gdhttp.request import HTTPRequest, MultipartForm

Completion = tuple[int, int, list[str], bytes]


def drive(r: HTTPRequest, start: Callable[[], Error], limit_s: float = 30.0) -> Completion:
    got: list[Completion] = []

    def done(result: int, code: int, headers: list[str], body: bytes) -> None:
        got.append((result, code, headers, body))

    r.request_completed.connect(done)
    try:
        assert start() == Error.OK, r.get_error_message()
        last = time.monotonic()
        deadline = last + limit_s
        while not got:
            assert time.monotonic() < deadline, "request did not complete"
            now = time.monotonic()
            r.process(now - last)
            last = now
            time.sleep(0.001)
    finally:
        r.request_completed.disconnect(done)
    return got[0]


def get(r: HTTPRequest, url: str, headers: list[str] | None = None) -> Completion:
    return drive(r, lambda: r.request(url, headers or []))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def trusting(endpoint: Any) -> HTTPRequest:
    r = HTTPRequest()
    assert r.client.set_trusted_certificates(str(endpoint.ca_pem_path)) == Error.OK
    return r


@pytest.mark.parametrize("path", ["/files/1m.bin", "/chunked/1m.bin", "/close/1m.bin"])
def test_download_every_framing(nginx_http: Any, path: str) -> None:
    r = HTTPRequest()
    result, code, _, body = get(r, nginx_http.url(path))
    assert (result, code) == (Result.RESULT_SUCCESS, 200)
    assert sha(body) == nginx_http.files["1m.bin"][1]


def test_gzip_from_nginx_is_decoded(nginx_http: Any) -> None:
    r = HTTPRequest()
    result, code, headers, body = get(r, nginx_http.url("/gzip/text-1m.txt"))
    assert (result, code) == (Result.RESULT_SUCCESS, 200)
    assert any(h.lower() == "content-encoding: gzip" for h in headers)
    assert sha(body) == nginx_http.files["text-1m.txt"][1]
    assert r.get_downloaded_bytes() < len(body)  # compressed on the wire


def test_16m_download_to_file(nginx_http: Any, tmp_path: Path) -> None:
    r = HTTPRequest()
    r.download_file = str(tmp_path / "16m.bin")
    progress: list[tuple[int, int]] = []
    r.download_progress.connect(lambda d, t: progress.append((d, t)))
    assert get(r, nginx_http.url("/files/16m.bin"))[:2] == (Result.RESULT_SUCCESS, 200)
    assert sha((tmp_path / "16m.bin").read_bytes()) == nginx_http.files["16m.bin"][1]
    assert progress[-1] == (16 << 20, 16 << 20)


def test_resume_with_nginx_range(nginx_http: Any, tmp_path: Path) -> None:
    full = HTTPRequest()
    whole = get(full, nginx_http.url("/files/1m.bin"))[3]
    target = tmp_path / "resume.bin"
    target.write_bytes(whole[:300_001])
    r = HTTPRequest()
    r.download_file = str(target)
    r.download_resume = True
    result, code, _headers, _ = get(r, nginx_http.url("/files/1m.bin"))
    assert (result, code) == (Result.RESULT_SUCCESS, 206)
    assert r.get_downloaded_bytes() == len(whole) - 300_001
    assert target.read_bytes() == whole
    # Already complete: nginx answers 416 and the file is left alone.
    result, code, _, _ = get(r, nginx_http.url("/files/1m.bin"))
    assert (result, code) == (Result.RESULT_SUCCESS, 416)
    assert target.read_bytes() == whole


def test_redirects_from_nginx(nginx_http: Any) -> None:
    r = HTTPRequest()
    result, code, _, body = get(r, nginx_http.url("/redirect-chain/5"))
    assert (result, code) == (Result.RESULT_SUCCESS, 200)
    assert sha(body) == nginx_http.files["1k.bin"][1] and r.get_redirect_count() == 6
    for code in (301, 302, 303, 307, 308):
        assert get(r, nginx_http.url(f"/redirect/{code}"))[:2] == (Result.RESULT_SUCCESS, 200)
        assert get(r, nginx_http.url(f"/redirect-rel/{code}"))[:2] == \
            (Result.RESULT_SUCCESS, 200)
    result, code, _headers, body = get(r, nginx_http.url("/redirect-loop"))
    assert (result, code, body) == (Result.RESULT_REDIRECT_LIMIT_REACHED, 302, b"")
    assert r.get_redirect_count() == 8


def test_status_codes_and_head(nginx_http: Any) -> None:
    r = HTTPRequest()
    assert get(r, nginx_http.url("/status/404"))[:2] == (Result.RESULT_SUCCESS, 404)
    result, code, _, body = get(r, nginx_http.url("/status/204"))
    assert (result, code, body) == (Result.RESULT_SUCCESS, 204, b"")
    head = drive(r, lambda: r.request(nginx_http.url("/files/1m.bin"), [], True,
                                      Method.METHOD_HEAD))
    assert head[:2] == (Result.RESULT_SUCCESS, 200) and head[3] == b""


def test_put_file_to_webdav(nginx_http: Any, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB
    source = tmp_path / "up.bin"
    source.write_bytes(payload)
    r = HTTPRequest()
    sent: list[tuple[int, int]] = []
    r.upload_progress.connect(lambda s, t: sent.append((s, t)))
    result, code, _, _ = drive(r, lambda: r.request_file(nginx_http.url("/upload/req.bin"),
                                                         str(source)))
    assert result == Result.RESULT_SUCCESS and code in (201, 204)
    assert (nginx_http.upload_dir / "req.bin").read_bytes() == payload
    assert sent[-1] == (len(payload), len(payload))


def test_multipart_post_to_nginx(nginx_http: Any, tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"A" * 100_000)
    form = MultipartForm()
    form.add_field("name", "value")
    form.add_file("file", tmp_path / "a.bin")
    r = HTTPRequest()
    result, code, _, body = drive(r, lambda: r.request_stream(nginx_http.url("/post-echo"), form))
    assert (result, code) == (Result.RESULT_SUCCESS, 200)
    assert body == f"received {form.size()}\n".encode()


def test_tls_trusted_untrusted_and_unvalidated(nginx_https: Any) -> None:
    r = trusting(nginx_https)
    result, code, _, body = get(r, nginx_https.url("/files/64k.bin", host="localhost"))
    assert (result, code) == (Result.RESULT_SUCCESS, 200)
    assert sha(body) == nginx_https.files["64k.bin"][1]
    plain = HTTPRequest()
    assert get(plain, nginx_https.url("/files/1k.bin"))[:2] == \
        (Result.RESULT_SSL_HANDSHAKE_ERROR, 0)
    result = drive(plain, lambda: plain.request(nginx_https.url("/files/1k.bin"), [], False))[0]
    assert result == Result.RESULT_SUCCESS


def test_slow_body_times_out(nginx_http: Any) -> None:
    r = HTTPRequest()
    r.timeout = 0.5
    r.download_chunk_size = 256
    started = time.monotonic()
    assert get(r, nginx_http.url("/slow/16m.bin"))[:2] == (Result.RESULT_TIMEOUT, 0)
    assert time.monotonic() - started < 5
    assert 0 < r.get_downloaded_bytes() < 16 << 20


def test_through_http_and_https_proxies(
    tinyproxy: Any, tinyproxy_auth: Any, nginx_http: Any, nginx_https: Any
) -> None:
    r = HTTPRequest()
    r.set_http_proxy(tinyproxy.host, tinyproxy.port)
    result, code, _, body = get(r, nginx_http.url("/redirect/302"))  # redirect via the proxy
    assert (result, code) == (Result.RESULT_SUCCESS, 200)
    assert sha(body) == nginx_http.files["1k.bin"][1]

    r = HTTPRequest()
    r.set_http_proxy(f"{tinyproxy_auth.user}:{tinyproxy_auth.password}@{tinyproxy_auth.host}",
                     tinyproxy_auth.port)
    assert get(r, nginx_http.url("/files/1k.bin"))[:2] == (Result.RESULT_SUCCESS, 200)

    r = trusting(nginx_https)
    r.set_https_proxy(tinyproxy.host, tinyproxy.port)
    result, code, _, body = get(r, nginx_https.url("/files/64k.bin", host="localhost"))
    assert (result, code) == (Result.RESULT_SUCCESS, 200)
    assert sha(body) == nginx_https.files["64k.bin"][1]
