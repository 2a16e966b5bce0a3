"""The hostile-server table: what a lying server sends, and how gdhttp must end.

Each ``Case`` is one behaviour. Most are "read the request head, send these
bytes, then close / reset / stay open"; those run both against a real socket
(``RawServer``, in ``test_hostile.py``) and through the ``connection`` seam one
byte per ``recv``. The rest carry their own RawServer script (endless streams,
trickles, resets, TLS).

Expected results follow docs/DESIGN: malformed heads and premature closes of
length/chunked bodies end in ``STATUS_CONNECTION_ERROR``; a read-until-close
body ends in ``STATUS_DISCONNECTED`` with its data; a valid response ends in
``STATUS_CONNECTED`` (keep-alive) with exactly its body.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gdhttp import limits
from gdhttp.constants import Method, Status

from servers import raw
from servers.raw import Action, RawConnection

S = Status

#: How the server ends a simple case after sending its bytes.
CLOSE, RESET, OPEN = "close", "reset", "open"

OK_HEAD = b"HTTP/1.1 200 OK\r\n"


@dataclass(frozen=True)
class Case:
    name: str
    expect: Status
    #: Bytes sent after the request head was read (simple cases).
    response: bytes = b""
    #: How a simple case ends: CLOSE (FIN), RESET (RST) or OPEN (held open, silent).
    end: str = CLOSE
    #: A whole RawServer script instead of response/end (built per run).
    script: Callable[[], Sequence[Action]] | None = None
    #: A fragment of get_error_message() expected at the end ("" = not checked).
    error: str = ""
    #: The exact body expected (None = not checked).
    body: bytes | None = None
    #: The response code expected (None = not checked).
    code: int | None = None
    method: Method = Method.METHOD_GET
    #: Connect with TLS; the expected status is then the end of the connect phase.
    tls: bool = False
    #: Read timeout for the client (s); silent servers use a short one.
    read_timeout: float = 3.0
    #: The whole case (connect, request, response) must end within this many seconds.
    max_seconds: float = 2.0
    #: tracemalloc peak bound in bytes, for floods and endless streams (None = not measured).
    max_memory: int | None = None
    #: Another status a race may honestly give (a reset can beat the connect's completion).
    race: Status | None = None
    #: An xfail reason for cases that show a client bug ("" = must pass).
    bug: str = ""

    @property
    def simple(self) -> bool:
        return self.script is None

    def build_script(self) -> list[Action]:
        if self.script is not None:
            return list(self.script())
        actions = [raw.read_head()]
        if self.response:
            actions.append(raw.send(self.response))
        if self.end == CLOSE:
            actions.append(raw.close())
        elif self.end == RESET:
            actions.append(raw.reset())
        else:
            actions.append(raw.silent(10.0))
        return actions


# --------------------------------------------------------------------------- helpers


def resp(*header_lines: str, body: bytes = b"", status: bytes = OK_HEAD) -> bytes:
    """A response head with these header lines (CRLF), then ``body`` verbatim."""
    head = status + b"".join(line.encode("latin-1") + b"\r\n" for line in header_lines)
    return head + b"\r\n" + body


def chunked_resp(framed_body: bytes, *extra: str) -> bytes:
    return resp("Transfer-Encoding: chunked", *extra, body=framed_body)


#: Bytes sent by the endless streams (each stream stops at this total, far past every limit).
ENDLESS_TOTAL = 32 << 20


def endless(prefix: bytes, unit: bytes, total: int = ENDLESS_TOTAL) -> Callable[[], list[Action]]:
    """Read the head, send ``prefix``, then ``unit`` again and again until the client leaves."""

    def run(conn: RawConnection) -> None:
        conn.sendall(prefix)
        sent = 0
        while sent < total:
            conn.sendall(unit)
            sent += len(unit)

    run.__name__ = "endless"
    return lambda: [raw.read_head(), raw.call(run)]


def trickle(data: bytes, delay: float) -> Callable[[], list[Action]]:
    return lambda: [raw.read_head(), raw.send_slowly(data, 1, delay), raw.silent(10.0)]


def junk(size: int, seed: int) -> bytes:
    """Deterministic binary junk without a blank line (so only the size limit can end it)."""
    rng = random.Random(seed)
    data = bytearray(rng.randbytes(size))
    for i in range(len(data)):
        if data[i] in (0x0A, 0x0D):
            data[i] = 0x20
    return bytes(data)


HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# An HTTP/2 server's first frame: SETTINGS, as a server talking h2 to an h1 client sends it.
HTTP2_SETTINGS = bytes.fromhex("000006040000000000000300000064")

#: Memory bound for floods and endless streams: a few times the largest limit.
MEM_BOUND = 4 * limits.MAX_HEADER_BLOCK + 2 * limits.FRAMING_READ_SIZE + (512 << 10)

HELLO = b"hello"
LEN5 = "Content-Length: 5"


# --------------------------------------------------------------------------- the table

CASES: list[Case] = [
    # ---- status lines -------------------------------------------------------------------
    Case("garbage_status_line", S.STATUS_CONNECTION_ERROR,
         b"FOO BAR BAZ\r\nContent-Length: 0\r\n\r\n", error="status line"),
    Case("partial_status_line_then_close", S.STATUS_CONNECTION_ERROR, b"HTTP/1.1 20",
         error="before the response head"),
    Case("status_line_only_then_close", S.STATUS_CONNECTION_ERROR, b"HTTP/1.1 200 OK\r\n",
         error="before the response head"),
    Case("empty_reply_then_close", S.STATUS_CONNECTION_ERROR, b"",
         error="before the response head"),
    Case("http09_style_body_without_head", S.STATUS_CONNECTION_ERROR,
         b"<html>hello</html>\n\nmore", error="status line"),
    Case("http2_preface", S.STATUS_CONNECTION_ERROR, HTTP2_PREFACE, error="status line"),
    Case("http2_settings_frame", S.STATUS_CONNECTION_ERROR, HTTP2_SETTINGS,
         error="status line"),
    Case("http_version_2", S.STATUS_CONNECTION_ERROR, b"HTTP/2 200\r\n\r\n",
         error="status line"),
    Case("http_version_3_0", S.STATUS_CONNECTION_ERROR, b"HTTP/3.0 200 OK\r\n\r\n",
         error="HTTP version"),
    Case("lowercase_http_name", S.STATUS_CONNECTION_ERROR, b"http/1.1 200 OK\r\n\r\n",
         error="status line"),
    Case("double_space_in_status_line", S.STATUS_CONNECTION_ERROR,
         b"HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n", error="status line"),
    Case("two_digit_status", S.STATUS_CONNECTION_ERROR, b"HTTP/1.1 20 OK\r\n\r\n",
         error="status line"),
    # Not "HTTP/" in the first bytes: refused at once, not after buffering a head's worth.
    Case("binary_junk", S.STATUS_CONNECTION_ERROR, junk(4096, 1),
         error="status line"),
    Case("binary_junk_beyond_head_limit", S.STATUS_CONNECTION_ERROR,
         junk(limits.MAX_HEADER_BLOCK + 4096, 2), error="status line",
         max_memory=MEM_BOUND),
    Case("status_999_is_passed_through", S.STATUS_CONNECTED, resp(LEN5, body=HELLO,
         status=b"HTTP/1.1 999 Whatever\r\n"), code=999, body=HELLO, end=OPEN),
    Case("status_000_is_refused", S.STATUS_CONNECTION_ERROR,
         resp(LEN5, body=HELLO, status=b"HTTP/1.1 000 Zero\r\n"), error="status",
         end=OPEN),
    Case("status_without_reason", S.STATUS_CONNECTED,
         b"HTTP/1.1 200\r\nContent-Length: 5\r\n\r\nhello", body=HELLO, code=200, end=OPEN),
    Case("status_with_empty_reason", S.STATUS_CONNECTED,
         b"HTTP/1.1 200 \r\nContent-Length: 5\r\n\r\nhello", body=HELLO, code=200, end=OPEN),
    Case("very_long_reason_within_limit", S.STATUS_CONNECTED,
         resp(LEN5, body=HELLO, status=b"HTTP/1.1 200 " + b"r" * 60_000 + b"\r\n"),
         body=HELLO, end=OPEN),
    Case("very_long_reason_beyond_limit", S.STATUS_CONNECTION_ERROR,
         resp(LEN5, body=HELLO, status=b"HTTP/1.1 200 " + b"r" * 70_000 + b"\r\n"),
         error="larger than", end=OPEN, max_memory=MEM_BOUND),
    Case("bare_lf_head", S.STATUS_CONNECTED,
         b"HTTP/1.1 200 OK\nContent-Length: 5\nX-A: b\n\nhello", body=HELLO, end=OPEN),
    Case("leading_crlf_before_status", S.STATUS_CONNECTED,
         b"\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", body=HELLO, end=OPEN),
    # A head ends at its first empty line in any CRLF/LF mix: this body stays body (bug 9).
    Case("head_ending_lf_crlf_keeps_body_as_body", S.STATUS_CONNECTED,
         b"HTTP/1.1 200 OK\r\nContent-Length: 30\n\r\nSet-Cookie: session=attacker\r\n",
         body=b"Set-Cookie: session=attacker\r\n", end=OPEN),
    Case("head_ending_crlf_lf_keeps_body_as_body", S.STATUS_CONNECTED,
         b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\nSet-Cookie: session=attacker\r\n",
         body=b"Set-Cookie: session=attacker\r\n", end=OPEN),
    Case("too_many_leading_empty_lines", S.STATUS_CONNECTION_ERROR,
         b"\r\n" * (limits.MAX_LEADING_EMPTY_LINES + 1) + resp(LEN5, body=HELLO),
         error="empty lines"),
    # RFC 9112 control characters (bug 10).
    Case("bare_cr_in_header_value", S.STATUS_CONNECTION_ERROR,
         resp("X-A: one\rX-B: two", LEN5, body=HELLO), error="bare CR"),
    Case("nul_after_obs_fold", S.STATUS_CONNECTION_ERROR,
         resp("X-Folded: one", " \x00two", LEN5, body=HELLO), error="NUL"),
    Case("control_character_in_header_value", S.STATUS_CONNECTION_ERROR,
         resp("X-A: a\x01b", LEN5, body=HELLO), error="control character"),
    Case("whitespace_only_line_in_head", S.STATUS_CONNECTION_ERROR,
         resp("X-A: a", "   ", LEN5, body=HELLO), error="whitespace-only"),
    Case("whitespace_only_trailer_line", S.STATUS_CONNECTION_ERROR,
         chunked_resp(b"5\r\nhello\r\n0\r\n \r\nX-Evil: 1\r\n\r\n"), error="whitespace-only"),
    # ---- header blocks ------------------------------------------------------------------
    Case("oversized_header_block", S.STATUS_CONNECTION_ERROR,
         resp("X-Big: " + "a" * (limits.MAX_HEADER_BLOCK + 10), LEN5, body=HELLO),
         error="larger than", max_memory=MEM_BOUND),
    Case("endless_header_block", S.STATUS_CONNECTION_ERROR,
         script=endless(OK_HEAD, b"X-Filler: " + b"f" * 1000 + b"\r\n"),
         error="larger than", max_memory=MEM_BOUND, max_seconds=3.0),
    Case("endless_header_line_without_newline", S.STATUS_CONNECTION_ERROR,
         script=endless(OK_HEAD + b"X-Long: ", b"z" * 4096),
         error="larger than", max_memory=MEM_BOUND, max_seconds=3.0),
    Case("header_flood", S.STATUS_CONNECTION_ERROR,
         resp(*(f"X-F{i}: v" for i in range(limits.MAX_HEADER_FIELDS + 1)), "Content-Length: 0"),
         error="header fields", max_memory=MEM_BOUND),
    Case("header_count_at_limit", S.STATUS_CONNECTED,
         resp(*(f"X-F{i}: v" for i in range(limits.MAX_HEADER_FIELDS - 1)), LEN5, body=HELLO),
         body=HELLO, end=OPEN),
    Case("nul_in_header_value", S.STATUS_CONNECTION_ERROR,
         resp("X-A: be\x00fore", LEN5, body=HELLO), error="NUL"),
    Case("nul_in_header_name", S.STATUS_CONNECTION_ERROR,
         resp("X-\x00A: v", LEN5, body=HELLO), error="header line"),
    Case("header_name_with_space", S.STATUS_CONNECTION_ERROR,
         resp("Bad Name: v", LEN5, body=HELLO), error="header line"),
    Case("space_before_colon", S.STATUS_CONNECTION_ERROR,
         resp("Content-Length : 5", body=HELLO), error="header line"),
    Case("header_without_colon", S.STATUS_CONNECTION_ERROR,
         resp("JustAWord", LEN5, body=HELLO), error="header line"),
    Case("header_with_empty_name", S.STATUS_CONNECTION_ERROR,
         resp(": empty", LEN5, body=HELLO), error="header line"),
    Case("obs_fold_is_joined", S.STATUS_CONNECTED,
         resp("X-Folded: one", "   two", LEN5, body=HELLO), body=HELLO, end=OPEN),
    Case("obs_fold_as_first_line", S.STATUS_CONNECTION_ERROR,
         resp("  starts folded", LEN5, body=HELLO), error="continuation"),
    Case("latin1_header_value", S.STATUS_CONNECTED,
         resp("X-Name: caf\xe9", LEN5, body=HELLO), body=HELLO, end=OPEN),
    # ---- Content-Length -----------------------------------------------------------------
    Case("conflicting_content_length", S.STATUS_CONNECTION_ERROR,
         resp("Content-Length: 5", "Content-Length: 6", body=b"hello!"), error="conflicting"),
    Case("conflicting_content_length_list", S.STATUS_CONNECTION_ERROR,
         resp("Content-Length: 5, 6", body=b"hello!"), error="conflicting"),
    Case("repeated_identical_content_length", S.STATUS_CONNECTED,
         resp("Content-Length: 5", "Content-Length: 5", body=HELLO), body=HELLO, end=OPEN),
    Case("content_length_plus_sign", S.STATUS_CONNECTION_ERROR,
         resp("Content-Length: +5", body=HELLO), error="Content-Length"),
    Case("content_length_negative", S.STATUS_CONNECTION_ERROR,
         resp("Content-Length: -1", body=HELLO), error="Content-Length"),
    Case("content_length_hex", S.STATUS_CONNECTION_ERROR,
         resp("Content-Length: 0x5", body=HELLO), error="Content-Length"),
    Case("content_length_huge", S.STATUS_CONNECTION_ERROR,
         resp("Content-Length: 99999999999999999999999", body=HELLO), error="Content-Length"),
    Case("content_length_unicode_digits", S.STATUS_CONNECTION_ERROR,
         resp("Content-Length: \uff15".encode().decode("latin-1"), body=HELLO),
         error="Content-Length"),
    Case("content_length_and_transfer_encoding", S.STATUS_CONNECTION_ERROR,
         resp("Content-Length: 5", "Transfer-Encoding: chunked", body=b"5\r\nhello\r\n0\r\n\r\n"),
         error="smuggling"),
    Case("truncated_content_length_body", S.STATUS_CONNECTION_ERROR,
         resp("Content-Length: 100", body=b"only part"), error="before the body ended"),
    Case("content_length_zero_with_extra_bytes", S.STATUS_CONNECTED,
         resp("Content-Length: 0", body=b"EXTRA BYTES"), body=b"", end=OPEN),
    Case("pipelined_extra_bytes_after_response", S.STATUS_CONNECTED,
         resp(LEN5, body=HELLO + b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"),
         body=HELLO, end=OPEN),
    # ---- Transfer-Encoding --------------------------------------------------------------
    # Only chunked is decoded: other transfer codings would reach the caller undecoded.
    Case("te_gzip_is_refused", S.STATUS_CONNECTION_ERROR,
         resp("Transfer-Encoding: gzip", body=b"\x1f\x8bnot-really-gzip"),
         error="Transfer-Encoding"),
    Case("te_chunked_then_gzip_is_refused", S.STATUS_CONNECTION_ERROR,
         resp("Transfer-Encoding: chunked, gzip", body=b"5\r\nhello\r\n0\r\n\r\n"),
         error="Transfer-Encoding"),
    Case("te_gzip_then_chunked_is_refused", S.STATUS_CONNECTION_ERROR,
         resp("Transfer-Encoding: gzip, chunked", body=b"5\r\nhello\r\n0\r\n\r\n"),
         error="Transfer-Encoding"),
    Case("http10_with_chunked_is_refused", S.STATUS_CONNECTION_ERROR,
         b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
         error="HTTP/1.0"),
    Case("te_uppercase_chunked", S.STATUS_CONNECTED,
         resp("Transfer-Encoding: CHUNKED", body=b"5\r\nhello\r\n0\r\n\r\n"),
         body=HELLO, end=OPEN),
    Case("te_chunked_twice", S.STATUS_CONNECTION_ERROR,
         resp("Transfer-Encoding: chunked, chunked", body=b"5\r\nhello\r\n0\r\n\r\n"),
         error="chunked", end=OPEN),
    Case("te_chunked_split_over_two_fields", S.STATUS_CONNECTION_ERROR,
         resp("Transfer-Encoding: chunked", "Transfer-Encoding: chunked",
              body=b"5\r\nhello\r\n0\r\n\r\n"), error="chunked", end=OPEN),
    Case("http10_until_close", S.STATUS_DISCONNECTED,
         b"HTTP/1.0 200 OK\r\n\r\nold style body", body=b"old style body"),
    Case("connection_close_until_close", S.STATUS_DISCONNECTED,
         resp("Connection: close", body=b"to the end"), body=b"to the end"),
    Case("until_close_reset_is_an_error", S.STATUS_CONNECTION_ERROR,
         resp("Connection: close", body=b"partial"), end=RESET, error="reset"),
    # ---- chunked bodies -----------------------------------------------------------------
    Case("chunked_valid_with_extensions_and_trailers", S.STATUS_CONNECTED,
         chunked_resp(b"5;name=val\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"), body=HELLO, end=OPEN),
    Case("many_tiny_chunks", S.STATUS_CONNECTED,
         chunked_resp(b"1\r\nx\r\n" * 5000 + b"0\r\n\r\n"), body=b"x" * 5000, end=OPEN),
    Case("invalid_chunk_size", S.STATUS_CONNECTION_ERROR,
         chunked_resp(b"zz\r\nhello\r\n0\r\n\r\n"), error="chunk size"),
    Case("negative_chunk_size", S.STATUS_CONNECTION_ERROR,
         chunked_resp(b"-5\r\nhello\r\n0\r\n\r\n"), error="chunk size"),
    Case("empty_chunk_size", S.STATUS_CONNECTION_ERROR,
         chunked_resp(b"\r\nhello\r\n0\r\n\r\n"), error="chunk size"),
    Case("chunk_size_0x_prefix", S.STATUS_CONNECTION_ERROR,
         chunked_resp(b"0x5\r\nhello\r\n0\r\n\r\n"), error="chunk size"),
    Case("chunk_size_17_hex_digits", S.STATUS_CONNECTION_ERROR,
         chunked_resp(b"1" * 17 + b"\r\nhello\r\n0\r\n\r\n"), error="chunk size"),
    Case("chunk_size_above_limit", S.STATUS_CONNECTION_ERROR,
         chunked_resp(b"%x\r\nhello\r\n" % (limits.MAX_CHUNK_SIZE + 1)), error="out of range"),
    Case("huge_chunk_size_then_close", S.STATUS_CONNECTION_ERROR,
         chunked_resp(b"3fffffffffffffff\r\nonly a little"), error="before the body ended",
         max_memory=MEM_BOUND),
    Case("chunk_without_crlf_terminator", S.STATUS_CONNECTION_ERROR,
         chunked_resp(b"5\r\nhelloXX0\r\n\r\n"), error="CRLF"),
    Case("chunk_longer_than_declared", S.STATUS_CONNECTION_ERROR,
         chunked_resp(b"3\r\nhello\r\n0\r\n\r\n"), error="CRLF"),
    Case("endless_chunk_size_line", S.STATUS_CONNECTION_ERROR,
         script=endless(chunked_resp(b"5"), b"5" * 4096), error="chunk-size line",
         max_memory=MEM_BOUND, max_seconds=3.0),
    Case("endless_chunk_extension", S.STATUS_CONNECTION_ERROR,
         script=endless(chunked_resp(b"5;ext="), b"e" * 4096), error="chunk-size line",
         max_memory=MEM_BOUND, max_seconds=3.0),
    Case("endless_trailers", S.STATUS_CONNECTION_ERROR,
         script=endless(chunked_resp(b"5\r\nhello\r\n0\r\n"),
                        b"X-Trailer: " + b"t" * 500 + b"\r\n"),
         error="trailer block", max_memory=MEM_BOUND, max_seconds=3.0),
    Case("malformed_trailer", S.STATUS_CONNECTION_ERROR,
         chunked_resp(b"5\r\nhello\r\n0\r\nno colon here\r\n\r\n"), error="trailer"),
    Case("truncated_chunked_body_mid_data", S.STATUS_CONNECTION_ERROR,
         chunked_resp(b"a\r\nhel"), error="before the body ended"),
    Case("close_mid_chunk_size_line", S.STATUS_CONNECTION_ERROR,
         chunked_resp(b"5\r\nhello\r\n3"), error="before the body ended"),
    Case("close_before_last_chunk", S.STATUS_CONNECTION_ERROR,
         chunked_resp(b"5\r\nhello\r\n"), error="before the body ended"),
    Case("close_in_trailers", S.STATUS_CONNECTION_ERROR,
         chunked_resp(b"5\r\nhello\r\n0\r\nX-T: 1\r\n"), error="before the body ended"),
    # ---- interim responses --------------------------------------------------------------
    Case("100_continue_then_response", S.STATUS_CONNECTED,
         b"HTTP/1.1 100 Continue\r\n\r\n" + resp(LEN5, body=HELLO), body=HELLO, code=200,
         end=OPEN),
    Case("103_early_hints_then_response", S.STATUS_CONNECTED,
         b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
         + resp(LEN5, body=HELLO), body=HELLO, code=200, end=OPEN),
    Case("interim_responses_at_limit", S.STATUS_CONNECTED,
         b"HTTP/1.1 100 Continue\r\n\r\n" * limits.MAX_INTERIM_RESPONSES
         + resp(LEN5, body=HELLO), body=HELLO, end=OPEN),
    Case("1xx_flood", S.STATUS_CONNECTION_ERROR,
         b"HTTP/1.1 100 Continue\r\n\r\n" * (limits.MAX_INTERIM_RESPONSES + 1)
         + resp(LEN5, body=HELLO), error="interim"),
    Case("endless_1xx_stream", S.STATUS_CONNECTION_ERROR,
         script=endless(b"", b"HTTP/1.1 102 Processing\r\n\r\n"), error="interim",
         max_memory=MEM_BOUND, max_seconds=3.0),
    Case("unsolicited_101", S.STATUS_CONNECTION_ERROR,
         b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
         error="101"),
    # ---- bodies where none may be ---------------------------------------------------------
    Case("204_with_body_is_ignored", S.STATUS_CONNECTED,
         resp(LEN5, body=HELLO, status=b"HTTP/1.1 204 No Content\r\n"), body=b"", end=OPEN),
    Case("304_with_chunked_body_is_ignored", S.STATUS_CONNECTED,
         chunked_resp(b"5\r\nhello\r\n0\r\n\r\n").replace(OK_HEAD, b"HTTP/1.1 304 NM\r\n"),
         body=b"", end=OPEN),
    Case("body_on_head_is_ignored", S.STATUS_CONNECTED, resp(LEN5, body=HELLO), body=b"",
         method=Method.METHOD_HEAD, end=OPEN),
    Case("chunked_body_on_head_is_ignored", S.STATUS_CONNECTED,
         chunked_resp(b"5\r\nhello\r\n0\r\n\r\n"), body=b"", method=Method.METHOD_HEAD, end=OPEN),
    # ---- silence, trickles and timeouts ---------------------------------------------------
    Case("silent_server", S.STATUS_CONNECTION_ERROR, b"", end=OPEN, read_timeout=0.5,
         error="no data", max_seconds=1.5),
    Case("silent_after_partial_head", S.STATUS_CONNECTION_ERROR, b"HTTP/1.1 200 OK\r\nX-A:",
         end=OPEN, read_timeout=0.5, error="no data", max_seconds=1.5),
    Case("silent_mid_body", S.STATUS_CONNECTION_ERROR, resp("Content-Length: 100", body=b"12"),
         end=OPEN, read_timeout=0.5, error="for 0.5 s", max_seconds=1.5),
    Case("silent_mid_chunked_body", S.STATUS_CONNECTION_ERROR, chunked_resp(b"5\r\nhello\r\n"),
         end=OPEN, read_timeout=0.5, error="for 0.5 s", max_seconds=1.5),
    # The read timeout is an idle timeout: every byte restarts it, so a trickle faster
    # than the timeout completes (the caller bounds the total time, as HTTPRequest does).
    Case("slowloris_head_completes", S.STATUS_CONNECTED,
         script=trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 0.1),
         read_timeout=0.5, body=b"hi", max_seconds=6.0),
    Case("slowloris_slower_than_read_timeout", S.STATUS_CONNECTION_ERROR,
         script=trickle(b"HTTP/1.1 200 OK\r\n", 0.8), read_timeout=0.5, error="no data",
         max_seconds=2.0),
    # ---- closes and resets at every stage -------------------------------------------------
    Case("close_right_after_accept", S.STATUS_CONNECTION_ERROR, script=lambda: [raw.close()]),
    # The RST can land before poll() sees the connect complete: then the connect failed.
    Case("reset_right_after_accept", S.STATUS_CONNECTION_ERROR, script=lambda: [raw.reset()],
         race=S.STATUS_CANT_CONNECT),
    Case("reset_after_request", S.STATUS_CONNECTION_ERROR, end=RESET, error="reset"),
    Case("reset_mid_head", S.STATUS_CONNECTION_ERROR, b"HTTP/1.1 200 OK\r\nContent-Le",
         end=RESET, error="reset"),
    Case("reset_mid_body", S.STATUS_CONNECTION_ERROR,
         resp("Content-Length: 100", body=b"0123456789"), end=RESET, error="reset"),
    Case("reset_mid_chunk", S.STATUS_CONNECTION_ERROR, chunked_resp(b"a\r\n01234"),
         end=RESET, error="reset"),
    Case("close_mid_chunk", S.STATUS_CONNECTION_ERROR, chunked_resp(b"a\r\n01234"),
         error="before the body ended"),
    # ---- TLS ---------------------------------------------------------------------------
    Case("tls_plain_http_reply", S.STATUS_SSL_HANDSHAKE_ERROR, tls=True,
         script=lambda: [raw.read_exact(5), raw.send(resp(LEN5, body=HELLO)), raw.sleep(0.2),
                         raw.close()]),
    Case("tls_binary_garbage", S.STATUS_SSL_HANDSHAKE_ERROR, tls=True,
         script=lambda: [raw.read_exact(5), raw.send(junk(2048, 3)), raw.sleep(0.2),
                         raw.close()]),
    Case("tls_close_during_handshake", S.STATUS_SSL_HANDSHAKE_ERROR, tls=True,
         script=lambda: [raw.read_exact(5), raw.close()]),
    Case("tls_reset_during_handshake", S.STATUS_SSL_HANDSHAKE_ERROR, tls=True,
         script=lambda: [raw.read_exact(5), raw.reset()]),
    Case("tls_fake_record_header_then_close", S.STATUS_SSL_HANDSHAKE_ERROR, tls=True,
         script=lambda: [raw.read_exact(5), raw.send(b"\x16\x03\x03\x40\x00" + b"\x00" * 100),
                         raw.sleep(0.2), raw.close()]),
    Case("tls_silent_server", S.STATUS_SSL_HANDSHAKE_ERROR, tls=True, read_timeout=0.5,
         script=lambda: [raw.silent(10.0)], error="handshake", max_seconds=1.5),
]

CASES_BY_NAME = {c.name: c for c in CASES}
assert len(CASES_BY_NAME) == len(CASES), "case names must be unique"


# --------------------------------------------------------------------------- the seam


class SplitStream:
    """A ``gdhttp.transport.Stream`` handing out canned server bytes in given pieces.

    ``sizes`` is cycled: each ``recv`` returns at most the next size (a size of 0
    means "nothing right now", like a socket that would block). After the data:
    ``b""`` (the server closed) or, with ``close_at_end=False``, None forever.
    """

    def __init__(self, data: bytes, sizes: Sequence[int] = (1 << 30,), *,
                 close_at_end: bool = True) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.sizes = list(sizes) or [1 << 30]
        self.turn = 0
        self.close_at_end = close_at_end
        self.sent = bytearray()
        self.closed = False
        self.recv_calls = 0

    def recv(self, n: int, /) -> bytes | None:
        self.recv_calls += 1
        if self.pos >= len(self.data):
            return b"" if self.close_at_end else None
        size = self.sizes[self.turn % len(self.sizes)]
        self.turn += 1
        if size == 0:
            return None
        take = min(n, size, len(self.data) - self.pos)
        out = bytes(self.data[self.pos : self.pos + take])
        self.pos += take
        return out

    def send(self, data: bytes | memoryview, /) -> int:
        self.sent += data
        return len(data)

    def close(self) -> None:
        self.closed = True


# --------------------------------------------------------------------------- floods (budgets)


@dataclass(frozen=True)
class Flood:
    """An endless or slow stream, to measure the longest single client call against it.

    The server reads the request head (or, with ``proxy``, the CONNECT head), sends
    ``prefix``, then ``unit`` ``count`` times, sleeping ``delay``
    between units. It runs in its own process so that its sending never competes with
    the measured client for the GIL.
    """

    name: str
    expect: Status
    prefix: bytes
    unit: bytes
    count: int = 1024
    delay: float = 0.0
    error: str = ""
    read_chunk_size: int = limits.DEFAULT_READ_CHUNK_SIZE
    read_timeout: float = 3.0
    #: The stream is an HTTPS proxy's reply to CONNECT (the client uses it as its proxy).
    proxy: bool = False
    #: The flood must end within this many seconds (wall clock, loaded CI machine).
    max_seconds: float = 10.0


ONE_BYTE_CHUNKS = chunked_resp(b"")
FLOODS: list[Flood] = [
    Flood("crlf_flood", S.STATUS_CONNECTION_ERROR, b"", b"\r\n" * 4096, error="empty lines"),
    Flood("lf_flood", S.STATUS_CONNECTION_ERROR, b"", b"\n" * 8192, error="empty lines"),
    Flood("proxy_connect_crlf_flood", S.STATUS_CANT_CONNECT, b"", b"\r\n" * 4096,
          error="empty lines", proxy=True),
    # 256 Ki chunks of one byte (1.5 MiB on the wire): a body budget of 16 MiB never ends a read.
    Flood("one_byte_chunks", S.STATUS_CONNECTED, ONE_BYTE_CHUNKS, b"1\r\nx\r\n" * 4096,
          count=64, max_seconds=20.0),
    Flood("one_byte_chunks_16mib_reads", S.STATUS_CONNECTED, ONE_BYTE_CHUNKS,
          b"1\r\nx\r\n" * 4096, count=64, read_chunk_size=limits.MAX_READ_CHUNK_SIZE,
          max_seconds=20.0),
    Flood("chunk_extension_flood", S.STATUS_CONNECTED, ONE_BYTE_CHUNKS,
          b"1;" + b"e" * (limits.MAX_CHUNK_LINE - 8) + b"\r\nx\r\n", count=1536,
          read_chunk_size=limits.MAX_READ_CHUNK_SIZE),
    Flood("1xx_storm", S.STATUS_CONNECTION_ERROR, b"", b"HTTP/1.1 102 Processing\r\n\r\n" * 64,
          count=4096, error="interim"),
    Flood("obs_fold_storm", S.STATUS_CONNECTION_ERROR, OK_HEAD + b"X-Folded: start\r\n",
          b" more\r\n" * 512, count=2048, error="head"),
    Flood("endless_header_lines", S.STATUS_CONNECTION_ERROR, OK_HEAD,
          b"X-A: b\r\n" * 512, count=2048, error="head"),
    Flood("big_body_16mib_reads", S.STATUS_CONNECTED, resp(f"Content-Length: {32 << 20}"),
          b"\xab" * (1 << 20), count=32, read_chunk_size=limits.MAX_READ_CHUNK_SIZE),
    Flood("slowloris_header_trickle", S.STATUS_CONNECTION_ERROR, OK_HEAD, b"X", count=1000,
          delay=0.8, read_timeout=0.5, error="no data", max_seconds=3.0),
]
FLOODS_BY_NAME = {f.name: f for f in FLOODS}


def flood_terminator(flood: Flood) -> bytes:
    """What ends a flood that is a valid message (the last chunk of a chunked body)."""
    return b"0\r\n\r\n" if flood.prefix == ONE_BYTE_CHUNKS else b""


def serve_flood(listener_fd: int, name: str) -> None:
    """Child-process body: one connection, the flood, then exit (bounded in time)."""
    import socket as _socket
    import time as _time

    flood = FLOODS_BY_NAME[name]
    listener = _socket.socket(fileno=listener_fd)
    listener.settimeout(15.0)
    stop_at = _time.monotonic() + 60.0
    try:
        conn, _ = listener.accept()
    except OSError:
        return
    conn.settimeout(10.0)
    try:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 1 << 16:
            got = conn.recv(4096)
            if not got:
                return
            head += got
        conn.sendall(flood.prefix)
        for _ in range(flood.count):
            if _time.monotonic() > stop_at:
                return
            conn.sendall(flood.unit)
            if flood.delay:
                _time.sleep(flood.delay)
        conn.sendall(flood_terminator(flood))
        # Hold the connection until the client is done with it.
        conn.settimeout(max(0.1, stop_at - _time.monotonic()))
        while conn.recv(65536):
            pass
    except OSError:
        pass
    finally:
        conn.close()


if __name__ == "__main__":
    import sys

    serve_flood(int(sys.argv[1]), sys.argv[2])
