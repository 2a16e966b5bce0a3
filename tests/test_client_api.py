"""The Godot surface: defaults, enums, Error returns, and bad input that never raises."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from gdhttp import HTTPClient as ExportedClient
from gdhttp.client import HTTPClient
from gdhttp.constants import Error, Method, ResponseCode, Result, Status
from gdhttp.protocol import http_escape


def test_defaults_match_the_engine() -> None:
    c = HTTPClient()
    assert c.get_status() is Status.STATUS_DISCONNECTED
    assert c.get_read_chunk_size() == c.read_chunk_size == 65536
    assert c.is_blocking_mode_enabled() is False and c.blocking_mode_enabled is False
    assert c.get_response_code() == 0
    assert c.get_response_body_length() == -1
    assert not c.has_response() and not c.is_response_chunked()
    assert c.get_connection() is None
    assert ExportedClient is HTTPClient


def test_enum_values_and_class_constants() -> None:
    assert HTTPClient.STATUS_BODY == Status.STATUS_BODY == 7
    assert HTTPClient.STATUS_SSL_HANDSHAKE_ERROR == 9
    assert HTTPClient.METHOD_PATCH == Method.METHOD_PATCH == 8 and Method.METHOD_MAX == 9
    assert HTTPClient.RESPONSE_IM_A_TEAPOT == ResponseCode.RESPONSE_IM_A_TEAPOT == 418
    assert HTTPClient.RESPONSE_NETWORK_AUTH_REQUIRED == 511
    assert Error.ERR_CANT_CONNECT == 25 and Error.ERR_CONNECTION_ERROR == 27
    assert Error.ERR_INVALID_PARAMETER == 31 and Error.ERR_BUSY == 44
    assert Result.RESULT_REQUEST_FAILED == 8 and Result.RESULT_TIMEOUT == 12
    assert 425 not in {r.value for r in ResponseCode}


@pytest.mark.parametrize(
    ("status", "expected"),
    [(Status.STATUS_DISCONNECTED, Error.ERR_UNCONFIGURED)],
)
def test_poll_when_disconnected(status: Status, expected: Error) -> None:
    c = HTTPClient()
    assert c.get_status() is status
    assert c.poll() is expected


def test_request_when_not_connected_is_invalid_parameter() -> None:
    # Spec §9.1: ERR_INVALID_PARAMETER, not ERR_UNCONFIGURED.
    assert HTTPClient().request(Method.METHOD_GET, "/", []) is Error.ERR_INVALID_PARAMETER


def test_read_body_outside_body_state_is_empty() -> None:
    c = HTTPClient()
    assert c.read_response_body_chunk() == b""
    assert c.get_status() is Status.STATUS_DISCONNECTED


@pytest.mark.parametrize("size", [255, 16 * 1024 * 1024 + 1, -1, 0, "4096", None, 3.5, True])
def test_read_chunk_size_refuses_bad_values_and_keeps_the_old(size: Any) -> None:
    c = HTTPClient()
    c.set_read_chunk_size(4096)
    c.set_read_chunk_size(size)
    assert c.get_read_chunk_size() == 4096
    assert c.get_error_message()


@pytest.mark.parametrize("size", [256, 16 * 1024 * 1024, 1 << 20])
def test_read_chunk_size_bounds_are_inclusive(size: int) -> None:
    c = HTTPClient()
    c.read_chunk_size = size
    assert c.read_chunk_size == size


@pytest.mark.parametrize(
    "host",
    ["", "a", "a.b", "::1", "https://", "http://abc", "bad host.com", "x\r\nHost: evil",
     "a/b/c.com",
     "user@host.com", "a:b:c.com", "x" * 300],
)
def test_connect_refuses_bad_hosts(host: str) -> None:
    c = HTTPClient()
    assert c.connect_to_host(host, 80) is Error.ERR_INVALID_PARAMETER
    assert c.get_status() is Status.STATUS_DISCONNECTED


@pytest.mark.parametrize(
    "args",
    [(None,), (123,), ("example.com", "80"), ("example.com", 70000), ("example.com", None),
     ("example.com", 80, False, True, "extra")],
)
def test_connect_wrong_types_never_raise(args: tuple[Any, ...]) -> None:
    c = HTTPClient()
    assert c.connect_to_host(*args) is Error.ERR_INVALID_PARAMETER


def test_https_prefix_forces_tls_and_default_port() -> None:
    c = HTTPClient()
    assert c.connect_to_host("https://127.0.0.1") is Error.OK
    assert c._conn is not None and c._conn.use_tls and c._conn.port == 443
    c.close()
    assert c.connect_to_host("HTTP://127.0.0.1", -1, True) is Error.OK
    # http:// does not turn TLS off
    assert c._conn is not None and c._conn.use_tls and c._conn.port == 443
    c.close()


def test_ip_literal_connects_without_resolving() -> None:
    c = HTTPClient()
    assert c.connect_to_host("127.0.0.1", 9) is Error.OK
    assert c.get_status() is Status.STATUS_CONNECTING
    c.close()
    assert c.get_status() is Status.STATUS_DISCONNECTED


def _connected_pair() -> tuple[HTTPClient, socket.socket]:
    a, b = socket.socketpair()
    c = HTTPClient()
    c.set_connection(a)
    return c, b


@pytest.mark.parametrize(
    "args",
    [
        (-1, "/", []),
        (9, "/", []),
        ("GET", "/", []),
        (None, "/", []),
        (0, None, []),
        (0, "/", None),
        (0, "/", "Header: x"),
        (0, "/", [1, 2]),
        (0, "/", ["X: 1\r\nInjected: yes"]),
        (0, "/", ["X: 1\nInjected: yes"]),
        (0, "/", ["X: \x00"]),
        (0, "/", [""]),
        (0, "/", ["NoColon"]),
        (0, "/a\r\nInjected: yes", []),
        (0, "/a b", []),
        (0, "relative", []),
        (2, "/", [], 12345),
        (0,),
    ],
)
def test_request_bad_input_is_refused(args: tuple[Any, ...]) -> None:
    c, peer = _connected_pair()
    try:
        assert c.request(*args) is Error.ERR_INVALID_PARAMETER
        assert c.get_status() is Status.STATUS_CONNECTED
        assert c.get_error_message()
        peer.setblocking(False)
        with pytest.raises(BlockingIOError, match="temporarily unavailable"):
            peer.recv(1)  # nothing was sent
    finally:
        c.close()
        peer.close()


def test_request_raw_wrong_body_type() -> None:
    c, peer = _connected_pair()
    assert c.request_raw(0, "/", [], "text") is Error.ERR_INVALID_PARAMETER  # type: ignore[arg-type]
    c.close()
    peer.close()


def test_set_connection_refuses_null_and_junk() -> None:
    c = HTTPClient()
    c.set_connection(None)
    c.set_connection(42)
    assert c.get_status() is Status.STATUS_DISCONNECTED and c.get_connection() is None


def test_proxy_setters_validate() -> None:
    c = HTTPClient()
    c.set_http_proxy("user:p%40ss@127.0.0.1", 3128)
    assert c._config.http_proxy is not None and c._config.http_proxy.host == "127.0.0.1"
    assert c._config.http_proxy.authorization == "Proxy-Authorization: Basic dXNlcjpwQHNz"
    c.set_http_proxy("127.0.0.1", 99999)  # refused, old kept
    assert c._config.http_proxy is not None and c._config.http_proxy.port == 3128
    c.set_http_proxy("", 3128)  # empty host unsets
    assert c._config.http_proxy is None
    c.set_https_proxy("127.0.0.1", -1)
    assert c._config.https_proxy is None
    c.set_https_proxy(None, 1)  # type: ignore[arg-type]
    assert c._config.https_proxy is None


def test_tls_option_setters_validate(tmp_path: Any) -> None:
    c = HTTPClient()
    assert c.set_min_tls_version("TLSv1.3") is Error.OK
    assert c.set_min_tls_version("1.2") is Error.OK
    assert c.set_min_tls_version("SSLv2") is Error.ERR_INVALID_PARAMETER
    assert c.set_pinned_public_keys(["not a pin"]) is Error.ERR_INVALID_PARAMETER
    assert c.set_pinned_public_keys(["sha256/" + "A" * 43 + "="]) is Error.OK
    assert c.set_pinned_public_keys("x") is Error.ERR_INVALID_PARAMETER  # type: ignore[arg-type]
    assert c.set_trusted_certificates(str(tmp_path / "missing.pem")) is Error.ERR_FILE_NOT_FOUND
    assert c.set_trusted_certificates("-----BEGIN CERTIFICATE-----\ngarbage\n") \
        is Error.ERR_INVALID_DATA
    assert c.set_crl(str(tmp_path / "missing.crl")) is Error.ERR_FILE_NOT_FOUND
    assert c.set_timeouts(0, 1) is Error.ERR_INVALID_PARAMETER
    assert c.set_timeouts(1, -1) is Error.ERR_INVALID_PARAMETER


def test_query_string_examples_from_the_engine() -> None:
    c = HTTPClient()
    q = c.query_string_from_dict
    assert q({"username": "user", "password": "pass"}) == "username=user&password=pass"
    assert q({"single": 123, "not_valued": None, "multiple": [22, 33, 44]}) == (
        "single=123&not_valued&multiple=22&multiple=33&multiple=44"
    )
    assert q({}) == ""
    assert q({"key1": "value", "key2": 123, "key3": [1, 2, 3], "key4": None}) == (
        "key1=value&key2=123&key3=1&key3=2&key3=3&key4"
    )
    assert q({"b": True, "f": False, "n": [None], "x": 1.0, "y": 0.5}) == (
        "b=True&f=False&n=Null&x=1&y=0.5"
    )
    assert q({None: 1, 5: "v", "e": []}) == "Null=1&5=v"
    assert q("not a dict") == ""  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("Godot Engine:'docs'", "Godot%20Engine%3A%27docs%27"),
        ("Tēšt", "T%C4%93%C5%A1t"),
        ("a b+c", "a%20b%2Bc"),
        ("a/b?c=d&e", "a%2Fb%3Fc%3Dd%26e"),
        ("50%", "50%25"),
        ("~user_name-1.0", "~user_name-1.0"),
        ("日本", "%E6%97%A5%E6%9C%AC"),
        ("\n", "%0A"),
    ],
)
def test_http_escape_matches_the_engine(text: str, escaped: str) -> None:
    assert http_escape(text) == escaped
