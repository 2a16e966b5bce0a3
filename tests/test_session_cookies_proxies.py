"""Session cookies (RFC 6265 via http.cookiejar) against pytest-httpbin, and proxies from
the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) against tinyproxy and raw servers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gdhttp import paths
from gdhttp.config import Proxy
from gdhttp.constants import Error
from gdhttp.request import HTTPRequest
from gdhttp.session import Session, env_proxy
from gdhttp.urls import parse_url
from sessionutil import run_one

from servers import free_port
from servers.raw import http_response, read_request, send

OK = 0
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def cookies_seen(body: bytes) -> dict[str, str]:
    seen: dict[str, str] = json.loads(body)["cookies"]
    return seen


# ---------------------------------------------------------------------------- cookies


def test_cookies_off_by_default(httpbin: Any) -> None:
    r = HTTPRequest(session=Session())
    result, code, _, body = run_one(r, httpbin.url + "/cookies/set?flavour=oat")
    assert (result, code) == (OK, 200)
    assert cookies_seen(body) == {}


def test_cookies_stored_and_sent_back(httpbin: Any) -> None:
    session = Session()
    session.set_cookies_enabled(True)
    r = HTTPRequest(session=session)
    # /cookies/set answers 302 with Set-Cookie: the redirect already carries it.
    assert cookies_seen(run_one(r, httpbin.url + "/cookies/set?flavour=oat")[3]) == \
        {"flavour": "oat"}
    other_node = HTTPRequest(session=session)
    assert cookies_seen(run_one(other_node, httpbin.url + "/cookies")[3]) == {"flavour": "oat"}
    assert session.get_stats()["cookies"] == 1
    assert cookies_seen(run_one(r, httpbin.url + "/cookies/delete?flavour")[3]) == {}
    assert session.get_stats()["cookies"] == 0


def test_callers_cookie_header_wins(httpbin: Any) -> None:
    session = Session()
    session.set_cookies_enabled(True)
    r = HTTPRequest(session=session)
    run_one(r, httpbin.url + "/cookies/set?jar=1")
    body = run_one(r, httpbin.url + "/cookies", headers=["Cookie: mine=2"])[3]
    assert cookies_seen(body) == {"mine": "2"}


def test_cookies_stay_with_their_host_and_clear(httpbin: Any) -> None:
    session = Session()
    session.set_cookies_enabled(True)
    r = HTTPRequest(session=session)
    run_one(r, httpbin.url + "/cookies/set?host=only")
    other_host = httpbin.url.replace("127.0.0.1", "localhost")
    assert cookies_seen(run_one(r, other_host + "/cookies")[3]) == {}
    session.clear()
    assert (session.get_stats()["idle"], session.get_stats()["cookies"]) == (0, 0)
    assert cookies_seen(run_one(r, httpbin.url + "/cookies")[3]) == {}


def test_cookies_saved_to_user_and_loaded(httpbin: Any, tmp_path: Path) -> None:
    previous = paths.current()
    paths.set_roots(res=str(tmp_path), user=str(tmp_path / "user"))
    (tmp_path / "user").mkdir()
    try:
        session = Session()
        session.set_cookies_enabled(True)
        run_one(HTTPRequest(session=session), httpbin.url + "/cookies/set?saved=yes")
        # httpbin's cookies have no expiry: session cookies, left out unless asked for.
        assert session.save_cookies("user://cookies.txt") == Error.OK
        assert "saved" not in (tmp_path / "user" / "cookies.txt").read_text()
        assert session.save_cookies("user://cookies.txt", True) == Error.OK
        assert "saved\tyes" in (tmp_path / "user" / "cookies.txt").read_text()
        later = Session()
        later.set_cookies_enabled(True)
        assert later.load_cookies("user://cookies.txt") == Error.OK
        body = run_one(HTTPRequest(session=later), httpbin.url + "/cookies")[3]
        assert cookies_seen(body) == {"saved": "yes"}
        assert later.load_cookies("user://missing.txt") == Error.ERR_FILE_NOT_FOUND
        (tmp_path / "user" / "junk.txt").write_text("not a cookie file\n")
        assert later.load_cookies("user://junk.txt") == Error.ERR_FILE_CANT_READ
        assert later.save_cookies("user://no/such/dir/c.txt") == Error.ERR_FILE_CANT_WRITE
    finally:
        paths.install(previous)


# ---------------------------------------------------------------------------- env proxies


@pytest.mark.parametrize(("env", "url", "expected"), [
    ({"HTTP_PROXY": "http://127.0.0.1:3128"}, "http://a.example:80/", ("127.0.0.1", 3128)),
    ({"http_proxy": "127.0.0.1:3128"}, "http://a.example/", ("127.0.0.1", 3128)),
    ({"HTTP_PROXY": "http://127.0.0.1:3128"}, "https://a.example/", None),
    ({"HTTPS_PROXY": "http://127.0.0.1:8443"}, "https://a.example/", ("127.0.0.1", 8443)),
    ({"ALL_PROXY": "http://127.0.0.1:1"}, "https://a.example/", ("127.0.0.1", 1)),
    ({"HTTP_PROXY": "http://127.0.0.1:3128", "NO_PROXY": "example.com"},
     "http://api.example.com/", None),
    ({"HTTP_PROXY": "http://127.0.0.1:3128", "NO_PROXY": ".example.com"},
     "http://example.org/", ("127.0.0.1", 3128)),
    ({"HTTP_PROXY": "http://127.0.0.1:3128", "no_proxy": "*"}, "http://x.example/", None),
    ({"HTTP_PROXY": "http://127.0.0.1:3128", "NO_PROXY": "127.0.0.1"},
     "http://127.0.0.1:8080/", None),
    ({"HTTPS_PROXY": "https://127.0.0.1:8443"}, "https://a.example/", None),  # no downgrade
])
def test_env_proxy_choice(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], url: str,
                          expected: tuple[str, int] | None) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    parsed = parse_url(url)
    assert parsed is not None
    proxy = env_proxy(parsed)
    assert (None if proxy is None else (proxy.host, proxy.port)) == expected


def test_env_proxy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://us%40er:p%3Ass@127.0.0.1:3128")
    parsed = parse_url("http://a.example/")
    assert parsed is not None
    proxy = env_proxy(parsed)
    assert isinstance(proxy, Proxy) and proxy.authorization.startswith(
        "Proxy-Authorization: Basic ")
    assert "p:ss" not in repr(proxy)


def test_env_proxy_used_only_when_switched_on(monkeypatch: pytest.MonkeyPatch,
                                              raw_server: Callable[..., Any]) -> None:
    proxy = raw_server([read_request(), send(http_response(200, b"via proxy"))])
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    target = f"http://127.0.0.1:{free_port()}/thing?q=1"  # nothing listens there
    session = Session()
    r = HTTPRequest(session=session)
    assert run_one(r, target)[0] != OK  # switch off: direct, refused
    session.set_use_env_proxies(True)
    result, code, _, body = run_one(r, target)
    assert (result, code, body) == (OK, 200, b"via proxy")
    assert proxy.requests[0].startswith(f"GET {target} HTTP/1.1\r\n".encode())


def test_env_proxy_through_tinyproxy_with_no_proxy(monkeypatch: pytest.MonkeyPatch,
                                                   tinyproxy_auth: Any, nginx_http: Any,
                                                   nginx_https: Any) -> None:
    p = tinyproxy_auth
    monkeypatch.setenv("HTTP_PROXY", f"http://{p.user}:{p.password}@{p.host}:{p.port}")
    monkeypatch.setenv("HTTPS_PROXY", f"http://{p.user}:{p.password}@{p.host}:{p.port}")
    session = Session()
    session.set_use_env_proxies(True)
    r = HTTPRequest(session=session)
    log_before = Path(p.log_path).read_text()
    assert run_one(r, nginx_http.url("/files/1k.bin?envproxy=1"))[:2] == (OK, 200)
    secure = HTTPRequest(session=session)
    ca = Path(nginx_https.ca_pem_path).read_text()
    assert secure.get_client().set_trusted_certificates(ca) == 0
    assert run_one(secure, nginx_https.url("/files/1k.bin", host="localhost"))[:2] == (OK, 200)
    log = Path(p.log_path).read_text()[len(log_before):]
    assert "envproxy=1" in log and "CONNECT" in log
    # NO_PROXY: the same origin goes direct (a different pool key: a new connection).
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    opened = session.get_stats()["opened"]
    assert run_one(r, nginx_http.url("/files/1k.bin?direct=1"))[:2] == (OK, 200)
    assert session.get_stats()["opened"] == opened + 1
    assert "direct=1" not in Path(p.log_path).read_text()
