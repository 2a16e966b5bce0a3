"""What a request cost and whom it talked to: phase timings and the TLS peer.

``ConnectReport`` belongs to a ``Connection``: the monotonic marks of its
resolve, connect (TCP plus any proxy tunnel) and TLS handshake, and a
description of the TLS session once it is up. ``RequestTimings`` belongs to an
``HTTPClient``'s current (or last) request and reads the connection's marks,
so a request on a reused connection reports 0 for the phases it skipped.

The certificate is described from its DER bytes here, not with
``getpeercert()``: that returns nothing useful when verification is off, and
an unverified server is exactly the one whose key a user wants to look at
before pinning it. No I/O and no HTTP in this module.
"""

from __future__ import annotations

import base64
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from gdhttp import tls

__all__ = ["ConnectReport", "RequestTimings", "describe_certificate", "tls_session_info"]


@dataclass
class ConnectReport:
    """Monotonic marks (0.0: not reached) of one connection's setup, and its TLS peer."""

    opened: float = field(default_factory=time.monotonic)
    resolved: float = 0.0
    connected: float = 0.0  # TCP, and the proxy's CONNECT tunnel when there is one
    secured: float = 0.0
    tls: dict[str, Any] = field(default_factory=dict)


def _span_ms(start: float, end: float) -> float:
    return round((end - start) * 1000.0, 3) if start and end >= start else 0.0


@dataclass
class RequestTimings:
    """One request's clock: set up by ``HTTPClient``, read by ``as_dict()``."""

    conn: ConnectReport = field(default_factory=ConnectReport)
    reused: bool = False
    started: float = 0.0  # request() queued the head
    first_byte: float = 0.0  # the first response byte arrived
    finished: float = 0.0  # complete, failed or closed

    def finish(self) -> None:
        if self.started and not self.finished:
            self.finished = time.monotonic()

    def as_dict(self) -> dict[str, Any]:
        """Milliseconds per phase; a request still running counts up to now."""
        conn = self.conn
        if self.reused:
            dns = connect = handshake = 0.0
        else:
            dns = _span_ms(conn.opened, conn.resolved)
            connect = _span_ms(conn.resolved, conn.connected)
            handshake = _span_ms(conn.connected, conn.secured)
        exchange = _span_ms(self.started, self.finished or time.monotonic())
        return {
            "dns_ms": dns,
            "connect_ms": connect,
            "tls_ms": handshake,
            "ttfb_ms": _span_ms(self.started, self.first_byte),
            # The phases, not wall time since connect: an idle gap between
            # connect_to_host() and request() is nobody's cost.
            "total_ms": round(dns + connect + handshake + exchange, 3),
            "reused": self.reused,
        }


# ---- the TLS session and its certificate

_NAME_KEYS = {
    "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
    "2.5.4.11": "OU", "2.5.4.5": "serialNumber", "1.2.840.113549.1.9.1": "emailAddress",
}  # fmt: skip
_STRING_TAGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1",
                0x1E: "utf-16-be"}  # fmt: skip


def _children(der: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """(tag, content start, content end) of each DER item in ``der[start:end]``."""
    items = []
    pos = start
    while pos < end:
        tag, body, after = tls.der_item(der, pos)
        items.append((tag, body, after))
        pos = after
    return items


def _oid(data: bytes) -> str:
    first, rest = divmod(data[0], 40) if data[0] < 80 else (2, data[0] - 80)
    parts, value = [first, rest], 0
    for byte in data[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def _name(der: bytes, start: int, end: int) -> str:
    """An X.501 Name as "CN=example.com, O=Example" in the certificate's order."""
    parts = []
    for _, set_start, set_end in _children(der, start, end):  # each RDN is a SET
        for _, seq_start, seq_end in _children(der, set_start, set_end):
            (_, oid_start, oid_end), (tag, val_start, val_end) = \
                _children(der, seq_start, seq_end)[:2]
            oid = _oid(der[oid_start:oid_end])
            value = der[val_start:val_end].decode(_STRING_TAGS.get(tag, "latin-1"), "replace")
            parts.append(f"{_NAME_KEYS.get(oid, oid)}={value}")
    return ", ".join(parts)


def _time(der: bytes, tag: int, start: int, end: int) -> str:
    """UTCTime or GeneralizedTime as ISO 8601 UTC ("2027-01-31T12:00:00Z")."""
    text = der[start:end].decode("ascii", "replace").rstrip("Z")
    if tag == 0x17:  # UTCTime: two-digit year, 50-99 -> 19xx (RFC 5280 4.1.2.5.1)
        text = ("19" if int(text[:2]) >= 50 else "20") + text
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}T{text[8:10]}:{text[10:12]}:{text[12:14]}Z"


def describe_certificate(der: bytes) -> dict[str, str]:
    """Subject, issuer, validity and the SPKI pin of a DER certificate.

    Raises ValueError (or IndexError) for bytes that are not a certificate.
    """
    _, cert_start, _ = tls.der_item(der, 0)
    _, tbs_start, tbs_end = tls.der_item(der, cert_start)
    fields = _children(der, tbs_start, tbs_end)
    if fields and fields[0][0] == 0xA0:  # explicit [0] version
        fields = fields[1:]
    if len(fields) < 6:
        raise ValueError("not a certificate")
    _serial, _algorithm, issuer, validity, subject = fields[:5]
    (nb_tag, nb_start, nb_end), (na_tag, na_start, na_end) = \
        _children(der, validity[1], validity[2])[:2]
    return {
        "subject": _name(der, subject[1], subject[2]),
        "issuer": _name(der, issuer[1], issuer[2]),
        "not_before": _time(der, nb_tag, nb_start, nb_end),
        "not_after": _time(der, na_tag, na_start, na_end),
        # The form set_pinned_public_keys() takes: paste it back as is.
        "pin": "sha256/" + base64.b64encode(tls.spki_sha256(der)).decode(),
    }


def tls_session_info(sock: ssl.SSLSocket, verified: bool) -> dict[str, Any]:
    """Version, cipher and the leaf certificate of a finished handshake."""
    cipher = sock.cipher()
    info: dict[str, Any] = {
        "version": sock.version() or "",
        "cipher": cipher[0] if cipher else "",
        "verified": verified,
    }
    der = sock.getpeercert(binary_form=True)
    if der:
        try:
            info.update(describe_certificate(der))
        except (ValueError, IndexError, UnicodeError):
            info["subject"] = "(unreadable certificate)"
    return info
