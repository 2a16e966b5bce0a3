"""tinyproxy as a forward HTTP proxy on loopback (foreground, config and logs in a tmp dir).

No ConnectPort lines are written, which in tinyproxy means CONNECT is allowed to every port
(by default the Debian config limits it to 443/563). Only 127.0.0.1 may use the proxy.

tinyproxy's auth answers: no Proxy-Authorization -> 407 with `Proxy-Authenticate: Basic`;
a wrong one -> 401 Unauthorized (not 407). Its error responses are HTTP/1.0.
"""

from __future__ import annotations

import base64
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from ._util import LOOPBACK, ChildProcess, ServerStartError, free_port, is_root, require_binary


@dataclass
class ProxyServer:
    """A running tinyproxy.

    host, port      where the proxy listens (127.0.0.1)
    user, password  Basic auth credentials, or None for an open proxy
    log_path        tinyproxy's own log (requests, CONNECTs, auth failures)
    """

    host: str
    port: int
    user: str | None
    password: str | None
    prefix: Path
    process: ChildProcess

    @property
    def log_path(self) -> Path:
        return self.prefix / "tinyproxy.log"

    def url(self, path: str = "", *, with_credentials: bool = False) -> str:
        """http://[user:password@]127.0.0.1:port (the proxy URL most clients take)."""
        cred = ""
        if with_credentials and self.user is not None:
            cred = f"{self.user}:{self.password}@"
        return f"http://{cred}{self.host}:{self.port}{path}"

    @property
    def proxy_authorization(self) -> str | None:
        """The Proxy-Authorization header value ("Basic ...") or None without auth."""
        if self.user is None:
            return None
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"

    def alive(self) -> bool:
        return self.process.alive()

    def stop(self) -> None:
        self.process.stop()

    def as_dict(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "user": self.user,
                "password": self.password, "url": self.url()}

    def __enter__(self) -> ProxyServer:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_tinyproxy(
    *,
    user: str | None = None,
    password: str | None = None,
    prefix: Path | None = None,
    timeout_s: int = 30,
    attempts: int = 3,
) -> ProxyServer:
    """Start tinyproxy on a free loopback port; Basic auth if user and password are given."""
    exe = require_binary("tinyproxy", "tinyproxy")
    if (user is None) != (password is None):
        raise ValueError("give both user and password, or neither")
    if prefix is None:
        prefix = Path(tempfile.mkdtemp(prefix="gdhttp-tinyproxy-"))
    prefix.mkdir(parents=True, exist_ok=True)
    last: ServerStartError | None = None
    for _ in range(max(1, attempts)):
        port = free_port()
        lines = [
            f"Port {port}",
            f"Listen {LOOPBACK}",
            f"Timeout {timeout_s}",
            f'LogFile "{prefix / "tinyproxy.log"}"',
            "LogLevel Info",
            f'PidFile "{prefix / "tinyproxy.pid"}"',
            "MaxClients 200",
            f"Allow {LOOPBACK}",
            "DisableViaHeader Yes",
        ]
        if is_root():
            # tinyproxy warns and keeps running as root without these; say it explicitly.
            lines += ["User root", "Group root"]
        if user is not None:
            lines.append(f"BasicAuth {user} {password}")
        conf = prefix / "tinyproxy.conf"
        conf.write_text("\n".join(lines) + "\n")
        proc = ChildProcess([exe, "-d", "-c", str(conf)], name="tinyproxy",
                            log_path=prefix / "stdout.log", cwd=prefix)
        try:
            proc.wait_for_ports([port], extra_log=prefix / "tinyproxy.log")
        except ServerStartError as exc:
            proc.stop()
            last = exc
            if "in use" in str(exc):
                continue
            raise
        return ProxyServer(LOOPBACK, port, user, password, prefix, proc)
    assert last is not None
    raise last
