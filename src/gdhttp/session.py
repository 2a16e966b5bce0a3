"""``Session``: what PyHTTPRequest nodes share: the keep-alive pool, cookies, env proxies.

Every ``HTTPRequest`` uses ``default_session()`` unless given another session
or None (None: a fresh connection per request, as the engine). A request's
use of a session is a ``Lease`` (one per ``Attempt``): it waits for a slot of
its origin, attaches a pooled or fresh ``Connection`` to the request's
``HTTPClient``, adds and stores cookies, and gives the connection back.

Cookies (RFC 6265, by ``http.cookiejar``) and proxies from the environment
(``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``, either case, as
curl and requests read them) are off by default: the engine has neither, and
scripts that manage ``Cookie`` themselves must not change.
"""

from __future__ import annotations

import dataclasses
import email.message
import http.cookiejar
import logging
import threading
import urllib.request
from typing import TYPE_CHECKING, Any, TypeAlias, cast
from urllib.parse import urlsplit

from gdhttp import limits, paths
from gdhttp.client import HTTPClient
from gdhttp.config import ClientConfig, Proxy, parse_proxy
from gdhttp.connection import Connection
from gdhttp.constants import METHOD_VERBS, Error, Method
from gdhttp.h2wire import H2_COUNTERS
from gdhttp.pool import Pool, PoolKey, Ticket, TicketState
from gdhttp.urls import ParsedURL, header_value

if TYPE_CHECKING:
    # Imported when a session first needs HTTP/2: the h2 library costs the engine's
    # start ~25 ms, and most games never turn HTTP/2 on.
    from gdhttp.h2conn import H2Exchange, H2Registry

__all__ = ["Channel", "Lease", "Session", "default_session", "env_proxy"]

#: What an Attempt talks to: the request's HTTPClient (HTTP/1.1), or an HTTP/2
#: stream of a shared connection with the same surface (see ``h2conn``).
Channel: TypeAlias = "HTTPClient | H2Exchange"

log = logging.getLogger("gdhttp")

#: RFC 9110 9.2.2: the methods a client may repeat after a connection failure.
IDEMPOTENT = frozenset({Method.METHOD_GET, Method.METHOD_HEAD, Method.METHOD_PUT,
                        Method.METHOD_DELETE, Method.METHOD_OPTIONS, Method.METHOD_TRACE})


def env_proxy(url: ParsedURL) -> Proxy | None:
    """The proxy the environment names for ``url`` (None: direct), as curl/requests."""
    proxies = urllib.request.getproxies_environment()
    scheme = "https" if url.use_ssl else "http"
    value = proxies.get(scheme) or proxies.get("all")
    if not value or urllib.request.proxy_bypass(f"{url.host}:{url.port}"):
        return None
    parts = urlsplit(value if "://" in value else f"http://{value}")
    if parts.scheme.lower() != "http" or not parts.hostname:
        # The transport speaks plain HTTP to proxies; a TLS one must not be downgraded.
        log.warning("gdhttp: ignoring %s_proxy: only http:// proxies are supported", scheme)
        return None
    userinfo = parts.netloc.rpartition("@")[0]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    try:
        return parse_proxy(f"{userinfo}@{host}" if userinfo else host, parts.port or 80)
    except ValueError as exc:
        log.warning("gdhttp: ignoring %s_proxy: %s", scheme, exc)
        return None


class Session:
    """A pool of keep-alive connections, a cookie jar and the env-proxy switch."""

    def __init__(self, max_per_origin: int = limits.DEFAULT_POOL_PER_ORIGIN,
                 max_total: int = limits.DEFAULT_POOL_TOTAL,
                 idle_timeout: float = limits.DEFAULT_POOL_IDLE_S, *,
                 http2: bool = True) -> None:
        self.pool = Pool(max_per_origin, max_total, idle_timeout)
        #: HTTP/2 connections (h2, by ALPN) for https origins; see docs/http2.md.
        self._h2: H2Registry | None = None
        self._http2 = bool(http2)
        # Mozilla's cookies.txt format: readable by curl, saved and loaded in one call.
        self.cookies = http.cookiejar.MozillaCookieJar()
        self._cookies_enabled = False
        self._env_proxies = False

    def __repr__(self) -> str:
        return f"<gdhttp.Session {self.get_stats()}>"

    # ------------------------------------------------------------------ settings

    def set_max_per_origin(self, count: int) -> Error:
        if not _count_ok(count):
            return Error.ERR_INVALID_PARAMETER
        self.pool.set_limits(count, self.pool.total)
        return Error.OK

    def get_max_per_origin(self) -> int:
        return self.pool.per_origin

    def set_max_total(self, count: int) -> Error:
        if not _count_ok(count):
            return Error.ERR_INVALID_PARAMETER
        self.pool.set_limits(self.pool.per_origin, count)
        return Error.OK

    def get_max_total(self) -> int:
        return self.pool.total

    def set_idle_timeout(self, seconds: float) -> Error:
        """Seconds an idle connection is kept (0: none is kept, no reuse)."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                or not 0 <= seconds < float("inf"):
            return Error.ERR_INVALID_PARAMETER
        self.pool.idle_timeout = float(seconds)
        return Error.OK

    def get_idle_timeout(self) -> float:
        return self.pool.idle_timeout

    def set_cookies_enabled(self, enabled: bool) -> None:
        self._cookies_enabled = bool(enabled)

    def is_cookies_enabled(self) -> bool:
        return self._cookies_enabled

    def set_use_env_proxies(self, enabled: bool) -> None:
        self._env_proxies = bool(enabled)

    def is_using_env_proxies(self) -> bool:
        return self._env_proxies

    def set_http2_enabled(self, enabled: bool) -> None:
        """Offer HTTP/2 (ALPN h2) to https origins; plain http stays HTTP/1.1."""
        self._http2 = bool(enabled)
        if self._h2 is not None:
            if not self._http2:
                self._h2.close_idle()
            self._h2.forget_protocols()

    @property
    def h2(self) -> H2Registry:
        """The session's HTTP/2 connections, made (and h2 imported) on first use."""
        if self._h2 is None:
            from gdhttp.h2conn import H2Registry

            self._h2 = H2Registry(self.pool)
        return self._h2

    def is_http2_enabled(self) -> bool:
        return self._http2

    def uses_http2(self, key: PoolKey) -> bool:
        """True when a request for ``key`` goes over HTTP/2 (or tries to, by ALPN)."""
        return self._http2 and key.scheme == "https" and not self.h2.speaks_http1(key)

    def clear(self) -> None:
        """Close the idle connections and forget every cookie."""
        self.close_idle()
        self.cookies.clear()

    def close_idle(self) -> None:
        self.pool.clear()
        if self._h2 is not None:
            self._h2.close_idle()

    def clear_cookies(self) -> None:
        self.cookies.clear()

    def save_cookies(self, path: str, include_session_cookies: bool = False) -> Error:
        """Write the cookies to ``path`` (``user://`` or an OS path; cookies.txt format).

        Session cookies (no expiry) are left out unless asked for, as a browser does."""
        try:
            target = paths.writable_path(path)
            self.cookies.save(target, ignore_discard=bool(include_session_cookies))
        except (OSError, ValueError) as exc:
            log.error("gdhttp: Session.save_cookies: %s", exc)
            return Error.ERR_FILE_CANT_WRITE
        return Error.OK

    def load_cookies(self, path: str) -> Error:
        """Add the cookies saved in ``path``; expired ones are dropped."""
        try:
            source = paths.writable_path(path)
            self.cookies.load(source, ignore_discard=True)
        except FileNotFoundError:
            return Error.ERR_FILE_NOT_FOUND
        except (OSError, ValueError) as exc:  # LoadError is an OSError
            log.error("gdhttp: Session.load_cookies: %s", exc)
            return Error.ERR_FILE_CANT_READ
        return Error.OK

    def get_stats(self) -> dict[str, int]:
        """opened, reused, queued, retried, expired (counters); active, idle, waiting, cookies;
        HTTP/2: h2_connections, h2_streams, h2_queued, h2_resets, h2_fallbacks (counters),
        h2_open (connections now)."""
        stats = self.pool.stats()
        stats["cookies"] = len(self.cookies)
        stats.update(self._h2.stats() if self._h2 is not None
                     else {**dict.fromkeys(H2_COUNTERS, 0), "h2_open": 0})
        return stats

    # ------------------------------------------------------------------ requests

    def key_for(self, url: ParsedURL, validate: bool, config: ClientConfig) -> PoolKey:
        proxy = self.proxy_for(url, config)
        tls = dataclasses.replace(config.tls, verify=validate) if url.use_ssl else None
        return PoolKey("https" if url.use_ssl else "http", url.host.lower(), url.port, tls, proxy)

    def proxy_for(self, url: ParsedURL, config: ClientConfig) -> Proxy | None:
        """The client's own proxy setting first; the environment's if the switch is on."""
        explicit = config.https_proxy if url.use_ssl else config.http_proxy
        if explicit is not None or not self._env_proxies:
            return explicit
        return env_proxy(url)


class Lease:
    """One Attempt's use of a session: a slot, a connection, cookies (see module doc)."""

    def __init__(self, session: Session, client: HTTPClient, url: ParsedURL,
                 method: Method, validate: bool) -> None:
        self.session, self.client, self.url = session, client, url
        self.method, self.validate = method, validate
        config = client._config
        self.proxy = session.proxy_for(url, config)
        self.key = session.key_for(url, validate, config)
        self.retried = False
        self.attached = False
        #: The HTTP/2 stream this request uses (None: HTTP/1.1 through the pool).
        self.exchange: H2Exchange | None = None
        self._h2_retries = 0
        if session.uses_http2(self.key):
            self.ticket = Ticket(self.key, TicketState.DONE)  # h2 needs no pool slot
            self.exchange = session.h2.exchange(self.key, config, self._make)
            self.attached = True
        else:
            self.ticket = session.pool.checkout(self.key)

    @property
    def channel(self) -> Channel:
        """What the Attempt talks to now: the h2 stream, or the HTTPClient."""
        exchange = self.exchange
        if exchange is None:
            return self.client
        if exchange.fallback:
            # The server chose HTTP/1.1 by ALPN: its connection is in the pool now.
            self.exchange = None
            self.ticket = self.session.pool.checkout(self.key)
            self.attached = False
            return self.client
        return exchange

    def _make(self, config: ClientConfig) -> Connection:
        url = self.url
        if url.use_ssl:
            config = dataclasses.replace(config, https_proxy=self.proxy)
        else:
            config = dataclasses.replace(config, http_proxy=self.proxy)
        return Connection(url.host, url.port, url.use_ssl, self.validate, config)

    @property
    def waiting(self) -> bool:
        if self.ticket.state is TicketState.WAITING:
            self.session.pool.settle()  # a collected request's slot may be free now
        return self.ticket.state is TicketState.WAITING

    def attach(self, fresh: bool = False) -> Error:
        """Attach the granted slot's connection (pooled, or fresh) to the client."""
        self.attached = True
        if self.exchange is not None:
            return Error.OK  # an h2 stream is attached from the start
        ticket, url = self.ticket, self.url
        conn, ticket.conn = ticket.conn, None
        if conn is not None and not fresh:
            def reuse(config: ClientConfig) -> Connection:
                conn.config = config  # this request's timeouts
                conn.reused = conn.requests > 0  # not one adopted fresh from ALPN
                return conn
            return self.client.attach(reuse, url.host, url.port, url.use_ssl)
        if conn is not None:
            conn.close()
        self.session.pool.count_opened(retry=fresh)
        return self.client.attach(self._make, url.host, url.port, url.use_ssl)

    def may_retry(self) -> bool:
        """Once, for an idempotent request whose reused connection failed unanswered;
        on HTTP/2, any request the server did not process (RFC 9113 8.7), twice."""
        exchange = self.exchange
        if exchange is not None:
            safe = exchange.unprocessed or (exchange.unanswered and self.method in IDEMPOTENT)
            return safe and self._h2_retries < limits.H2_MAX_RETRIES
        return not self.retried and self.method in IDEMPOTENT and self.client.failed_unanswered

    def retry(self) -> Error:
        exchange = self.exchange
        if exchange is not None:
            self._h2_retries += 1
            log.info("gdhttp: sending again on a new HTTP/2 connection: %s",
                     exchange.get_error_message())
            exchange.close()
            self.session.h2.count("h2_retried")
            self.exchange = self.session.h2.exchange(self.key, self.client._config, self._make)
            return Error.OK
        self.retried = True
        log.info("gdhttp: retrying on a fresh connection (the reused one was closed): %s",
                 self.client.get_error_message())
        return self.attach(fresh=True)

    def release(self) -> None:
        """Give the slot back, with the client's connection if it is reusable (idempotent)."""
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            exchange.close()  # RST_STREAM if unfinished; the link stays for others
        if self.ticket.state is TicketState.DONE:
            return
        conn = self.client.detach() if self.ticket.state is TicketState.GRANTED else None
        self.session.pool.checkin(self.ticket, conn)

    def abandon(self) -> None:
        """The finalizer's release: no lock taken here (see ``Pool.abandon``)."""
        exchange = self.exchange
        if exchange is not None:
            exchange.abandon()
        if self.ticket.state is not TicketState.DONE:
            self.session.pool.abandon(self.ticket)

    # ------------------------------------------------------------------ cookies

    def cookie_headers(self, headers: list[str]) -> list[str]:
        """``headers`` plus the jar's Cookie header (unless the caller sent one)."""
        if not self.session.is_cookies_enabled() or header_value(headers, "cookie") is not None:
            return headers
        request = urllib.request.Request(self.url.geturl(), method=METHOD_VERBS[self.method])
        self.session.cookies.add_cookie_header(request)
        value = request.get_header("Cookie")
        return [*headers, f"Cookie: {value}"] if value else headers

    def store_cookies(self, response_headers: tuple[str, ...]) -> None:
        if not self.session.is_cookies_enabled():
            return
        message = email.message.Message()
        for line in response_headers:
            name, sep, value = line.partition(":")
            if sep:
                message[name.strip()] = value.strip()
        request = urllib.request.Request(self.url.geturl(), method=METHOD_VERBS[self.method])
        self.session.cookies.extract_cookies(cast(Any, _Response(message)), request)


class _Response:
    """The one method ``CookieJar.extract_cookies`` asks of a response."""

    def __init__(self, message: email.message.Message) -> None:
        self._message = message

    def info(self) -> email.message.Message:
        return self._message


def _count_ok(count: object) -> bool:
    return isinstance(count, int) and not isinstance(count, bool) \
        and 1 <= count <= limits.MAX_POOL_CONNECTIONS


_default: Session | None = None
_default_lock = threading.Lock()


def default_session() -> Session:
    """The process-wide session PyHTTPRequest nodes share unless told otherwise."""
    global _default
    with _default_lock:
        if _default is None:
            # HTTP/1.1 unless a script turns HTTP/2 on: plain nodes stay a drop-in for the
            # engine's (reason phrases, header case as sent); sessions a game makes speak h2.
            _default = Session(http2=False)
        return _default
