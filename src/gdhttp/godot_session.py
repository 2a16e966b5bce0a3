"""``PyHTTPSession``: a ``gdhttp.session.Session`` for GDScript (a Reference).

A thin adapter, no HTTP logic. A PyHTTPRequest node finds the Python session
behind a PyHTTPSession object by the object's instance id (``session_of``):
the bridge hands scripts' objects over as engine proxies, not as our instances.
"""

from __future__ import annotations

import weakref
from typing import Any

from gdhttp.constants import Error
from gdhttp.gdnative import GodotObjectLike, exposed
from gdhttp.session import Session, default_session

__all__ = ["PyHTTPSession", "session_of"]

#: instance id -> the live PyHTTPSession adapter (weak: the engine owns its life).
_by_id: weakref.WeakValueDictionary[int, PyHTTPSession] = weakref.WeakValueDictionary()


def session_of(obj: Any) -> Session | None:
    """The Python session behind a PyHTTPSession engine object; None if it is none."""
    try:
        adapter = _by_id.get(int(obj.get_instance_id()))
    except Exception:  # not an object, or freed: the caller reports it
        return None
    return adapter.session if adapter is not None else None


@exposed(base="Reference")
class PyHTTPSession:
    """Connections, cookies and proxy rules shared by the PyHTTPRequest nodes that use it.

    Nodes use the process-wide default session unless `PyHTTPRequest.set_session()`
    picks this one (or null: a fresh connection per request, as the engine)."""

    owner: GodotObjectLike
    __gddoc_source__ = Session
    __gddoc_constants__ = "None."

    def __init__(self) -> None:
        self.session = Session()
        _by_id[int(self.owner.get_instance_id())] = self

    def _destroy(self) -> None:
        if self.session is not default_session():
            self.session.close_idle()  # running requests keep theirs until they end

    def use_default_session(self) -> None:
        """Make this object control the process-wide default session (the one nodes
        use when no session was set)."""
        if self.session is not default_session():
            self.session.close_idle()
        self.session = default_session()

    def is_default_session(self) -> bool:
        return self.session is default_session()

    def set_max_per_origin(self, count: int) -> Error:
        """Connections open at once to one origin (1..1024; default 6); more requests wait."""
        return self.session.set_max_per_origin(count)

    def get_max_per_origin(self) -> int:
        return self.session.get_max_per_origin()

    def set_max_total(self, count: int) -> Error:
        """Connections open at once over all origins (1..1024; default 64)."""
        return self.session.set_max_total(count)

    def get_max_total(self) -> int:
        return self.session.get_max_total()

    def set_idle_timeout(self, seconds: float) -> Error:
        """Seconds an idle connection is kept for reuse (0: none is kept; default 30)."""
        return self.session.set_idle_timeout(seconds)

    def get_idle_timeout(self) -> float:
        return self.session.get_idle_timeout()

    def set_cookies_enabled(self, enabled: bool) -> None:
        """Store cookies from responses and send them back (RFC 6265); off by default."""
        self.session.set_cookies_enabled(enabled)

    def is_cookies_enabled(self) -> bool:
        return self.session.is_cookies_enabled()

    def set_use_env_proxies(self, enabled: bool) -> None:
        """Use HTTP_PROXY / HTTPS_PROXY / NO_PROXY from the environment; off by default."""
        self.session.set_use_env_proxies(enabled)

    def is_using_env_proxies(self) -> bool:
        return self.session.is_using_env_proxies()

    def set_http2_enabled(self, enabled: bool) -> None:
        """Offer HTTP/2 (ALPN h2) to https servers: one shared connection per origin
        carries every request. Servers without h2, and plain http, stay HTTP/1.1. On by
        default for a new session; off for the default session plain nodes share."""
        self.session.set_http2_enabled(enabled)

    def is_http2_enabled(self) -> bool:
        return self.session.is_http2_enabled()

    def clear(self) -> None:
        """Close the idle connections and forget every cookie."""
        self.session.clear()

    def clear_cookies(self) -> None:
        self.session.clear_cookies()

    def close_idle(self) -> None:
        self.session.close_idle()

    def save_cookies(self, path: str, include_session_cookies: bool = False) -> Error:
        """Write the cookies to `path` (`user://...`, cookies.txt format); cookies without
        an expiry only if `include_session_cookies`."""
        return self.session.save_cookies(path, include_session_cookies)

    def load_cookies(self, path: str) -> Error:
        """Add the cookies saved by `save_cookies()` (expired ones are dropped)."""
        return self.session.load_cookies(path)

    def get_stats(self) -> dict[str, int]:
        """Counters `opened`, `reused`, `queued`, `retried`, `expired`; now `active`,
        `idle`, `waiting`, `cookies`. HTTP/2: `h2_connections`, `h2_streams`, `h2_queued`,
        `h2_resets`, `h2_fallbacks`, `h2_retried`; now `h2_open`."""
        return self.session.get_stats()
