"""HTTPRequest and caller mistakes: Godot Errors instead of exceptions, no secrets in messages."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from gdhttp.constants import Error, Result
from gdhttp.request import HTTPRequest, MultipartForm
from gdhttp.urls import redact

from servers import RawServer, http_response, read_head, send

Completion = tuple[int, int, list[str], bytes]
SECRET = "hunter2-s3cret"


def drive(r: HTTPRequest, limit_s: float = 10.0) -> list[Completion]:
    """Step until a completion arrives (or limit_s), then a little longer for strays."""
    done: list[Completion] = []
    r.request_completed.connect(lambda *args: done.append(args))  # type: ignore[arg-type]
    deadline = time.monotonic() + limit_s
    while not done and time.monotonic() < deadline:
        r.process(0.01)
        time.sleep(0.001)
    for _ in range(20):
        r.process(0.01)
    return done


# ---------------------------------------------------------------- bug 13: caller mistakes


@pytest.mark.parametrize(
    "args",
    [
        ("name", "lone \ud800 surrogate"),
        ("lone \udfff", "value"),
        ("name", 42),
        (42, "value"),
        ("name", "value", 7),
        ("name", "value", "text/\ud800"),
    ],
)
def test_add_field_refuses_without_raising(args: tuple[object, ...]) -> None:
    form = MultipartForm("b")
    before = form.size()
    assert form.add_field(*args) == Error.ERR_INVALID_PARAMETER  # type: ignore[arg-type]
    assert form.size() == before  # the form is unchanged


def test_add_file_refuses_a_bad_content_type(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"a")
    form = MultipartForm("b")
    assert form.add_file("f", tmp_path / "a.txt", content_type=3) \
        == Error.ERR_INVALID_PARAMETER  # type: ignore[arg-type]
    assert form.add_file("f\ud800", tmp_path / "a.txt") == Error.ERR_INVALID_PARAMETER


@pytest.mark.parametrize("resume", [False, True])
def test_download_file_with_nul_cant_open(resume: bool, tmp_path: Path) -> None:
    srv = RawServer([read_head(), send(http_response(200, b"data"))])
    with srv:
        r = HTTPRequest()
        r.download_file = str(tmp_path / "bad\0name.bin")
        r.download_resume = resume
        assert r.request(srv.url("/f")) == Error.OK
        done = drive(r)
    assert [d[:2] for d in done] == [(Result.RESULT_DOWNLOAD_FILE_CANT_OPEN, 200)]
    assert not r.is_requesting()


def test_nul_download_file_with_resume_starts_and_completes_once() -> None:
    r = HTTPRequest()
    r.download_file = "/tmp/x\0y"
    r.download_resume = True
    # The path is only a problem once a body arrives (as in the engine); nothing listens here.
    assert r.request("http://127.0.0.1:9/") == Error.OK
    assert [d[0] for d in drive(r)] == [Result.RESULT_CANT_CONNECT]


def test_refused_request_has_no_phantom_completion() -> None:
    r = HTTPRequest()
    r.download_file = "/tmp/x\0y"
    r.download_resume = True
    assert r.request("http://127.0.0.1:9/", ["Bad Header"]) == Error.ERR_INVALID_PARAMETER
    assert not r.is_requesting()
    assert drive(r, limit_s=0.1) == []


# ---------------------------------------------------------------- bug 14: secrets


def test_redact_patterns() -> None:
    assert SECRET not in redact(f"http://user:{SECRET}@example.com/x")
    assert SECRET not in redact(f"proxy user:{SECRET}@127.0.0.1:3128 refused")
    assert SECRET not in redact(f"'Authorization: Bearer {SECRET}\\r\\nX: y'")
    assert redact("http://example.com:80/a@b") == "http://example.com:80/a@b"


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        (f"http://user:{SECRET}@exa mple.com/", []),
        ("http://127.0.0.1:9/", [f"Authorization: Bearer {SECRET}\r\nX-Injected: 1"]),
        ("http://127.0.0.1:9/", [f"Authorization: Basic {SECRET}\0"]),
        ("http://127.0.0.1:9/", [f"Cookie: session={SECRET}", "no colon here"]),
    ],
)
def test_refusals_never_echo_secrets(url: str, headers: list[str],
                                     caplog: pytest.LogCaptureFixture) -> None:
    r = HTTPRequest()
    with caplog.at_level(logging.DEBUG, logger="gdhttp"):
        assert r.request(url, headers) == Error.ERR_INVALID_PARAMETER
    assert r.get_error_message()
    assert SECRET not in r.get_error_message()
    assert SECRET not in caplog.text


def test_failures_never_echo_userinfo_or_proxy_passwords(
        caplog: pytest.LogCaptureFixture) -> None:
    r = HTTPRequest()
    r.set_http_proxy(f"user:{SECRET}@127.0.0.1", 9)  # nothing listens on port 9
    with caplog.at_level(logging.DEBUG, logger="gdhttp"):
        assert r.request(f"http://me:{SECRET}@127.0.0.1:9/x") == Error.OK
        done = drive(r)
    assert done and done[0][0] != Result.RESULT_SUCCESS
    assert SECRET not in r.get_error_message()
    assert SECRET not in caplog.text
