"""The client's Status machine as data.

Every change of ``HTTPClient.get_status()`` goes through ``TRANSITIONS``:
``(current status, event) -> (new status, Error that poll() returns)``.
A pair missing from the table is a bug in the client, not a server's doing.
``POLL_ON_ENTRY`` is what ``poll()`` returns in states where it does nothing.
"""

from __future__ import annotations

from enum import Enum, auto
from typing import Final

from gdhttp.constants import Error, Status

__all__ = ["POLL_ON_ENTRY", "TRANSITIONS", "Event", "next_state"]


class Event(Enum):
    RESOLVE_STARTED = auto()  # connect_to_host() with a host name
    CONNECT_STARTED = auto()  # connect_to_host() with an IP literal
    RESOLVED = auto()  # addresses known, a TCP connect has started
    RESOLVE_FAILED = auto()
    CONNECT_FAILED = auto()  # every address refused or timed out, or proxy refused
    HANDSHAKE_FAILED = auto()  # TLS setup, handshake, verification or pin failure
    READY = auto()  # TCP (+ proxy tunnel, + TLS) established
    REQUEST_STARTED = auto()  # request() accepted; head and body go out from poll()
    HEAD_WITH_BODY = auto()
    HEAD_WITHOUT_BODY = auto()
    BODY_DONE = auto()  # body complete, connection reusable
    BODY_EOF = auto()  # read-until-close body ended by the server closing
    CONNECTION_LOST = auto()  # reset, premature close, timeout, protocol violation
    ADOPTED = auto()  # set_connection() gave us a ready stream
    SPENT = auto()  # response complete, but the connection can't carry another request


S = Status
E = Error

TRANSITIONS: Final[dict[tuple[Status, Event], tuple[Status, Error]]] = {
    (S.STATUS_DISCONNECTED, Event.RESOLVE_STARTED): (S.STATUS_RESOLVING, E.OK),
    (S.STATUS_DISCONNECTED, Event.CONNECT_STARTED): (S.STATUS_CONNECTING, E.OK),
    (S.STATUS_DISCONNECTED, Event.CONNECT_FAILED): (S.STATUS_CANT_CONNECT, E.ERR_CANT_CONNECT),
    (S.STATUS_DISCONNECTED, Event.ADOPTED): (S.STATUS_CONNECTED, E.OK),
    (S.STATUS_RESOLVING, Event.RESOLVED): (S.STATUS_CONNECTING, E.OK),
    (S.STATUS_RESOLVING, Event.RESOLVE_FAILED): (S.STATUS_CANT_RESOLVE, E.ERR_CANT_RESOLVE),
    (S.STATUS_RESOLVING, Event.CONNECT_FAILED): (S.STATUS_CANT_CONNECT, E.ERR_CANT_CONNECT),
    (S.STATUS_CONNECTING, Event.CONNECT_FAILED): (S.STATUS_CANT_CONNECT, E.ERR_CANT_CONNECT),
    # The engine reports handshake failures as ERR_CANT_CONNECT from poll().
    (S.STATUS_CONNECTING, Event.HANDSHAKE_FAILED): (
        S.STATUS_SSL_HANDSHAKE_ERROR,
        E.ERR_CANT_CONNECT,
    ),
    (S.STATUS_CONNECTING, Event.READY): (S.STATUS_CONNECTED, E.OK),
    (S.STATUS_CONNECTED, Event.REQUEST_STARTED): (S.STATUS_REQUESTING, E.OK),
    (S.STATUS_CONNECTED, Event.CONNECTION_LOST): (
        S.STATUS_CONNECTION_ERROR,
        E.ERR_CONNECTION_ERROR,
    ),
    (S.STATUS_REQUESTING, Event.HEAD_WITH_BODY): (S.STATUS_BODY, E.OK),
    (S.STATUS_REQUESTING, Event.HEAD_WITHOUT_BODY): (S.STATUS_CONNECTED, E.OK),
    (S.STATUS_REQUESTING, Event.CONNECTION_LOST): (
        S.STATUS_CONNECTION_ERROR,
        E.ERR_CONNECTION_ERROR,
    ),
    (S.STATUS_BODY, Event.BODY_DONE): (S.STATUS_CONNECTED, E.OK),
    (S.STATUS_BODY, Event.BODY_EOF): (S.STATUS_DISCONNECTED, E.OK),
    (S.STATUS_BODY, Event.SPENT): (S.STATUS_DISCONNECTED, E.OK),
    (S.STATUS_REQUESTING, Event.SPENT): (S.STATUS_DISCONNECTED, E.OK),
    (S.STATUS_BODY, Event.CONNECTION_LOST): (S.STATUS_CONNECTION_ERROR, E.ERR_CONNECTION_ERROR),
}

#: poll() in these states changes nothing and returns this code (engine behaviour).
POLL_ON_ENTRY: Final[dict[Status, Error]] = {
    S.STATUS_DISCONNECTED: E.ERR_UNCONFIGURED,
    S.STATUS_CANT_RESOLVE: E.ERR_CANT_RESOLVE,
    S.STATUS_CANT_CONNECT: E.ERR_CANT_CONNECT,
    S.STATUS_CONNECTION_ERROR: E.ERR_CONNECTION_ERROR,
    S.STATUS_SSL_HANDSHAKE_ERROR: E.ERR_CONNECTION_ERROR,
}


def next_state(status: Status, event: Event) -> tuple[Status, Error]:
    """Look a transition up; an unknown pair means the client broke its own rules."""
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise AssertionError(f"no transition from {status.name} on {event.name}") from None
