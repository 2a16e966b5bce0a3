"""gdhttp: Godot 3.5's HTTPClient and HTTPRequest, written in Python.

``gdhttp.HTTPClient`` is poll-driven and never blocks the caller (unless
blocking mode asks for it); it runs in any Python program and, through the
bridge in ``gdhttp.gdnative``, inside a Godot 3 engine.
"""

from __future__ import annotations

import logging

from gdhttp.client import HTTPClient
from gdhttp.constants import Error, Method, ResponseCode, Result, Status

__all__ = ["Error", "HTTPClient", "Method", "ResponseCode", "Result", "Status"]
__version__ = "0.1.0"

# A library stays quiet unless the application configures logging; inside Godot
# the bridge adds a handler that prints warnings like the engine's own errors.
logging.getLogger("gdhttp").addHandler(logging.NullHandler())


def __getattr__(name: str) -> object:
    # HTTPRequest and Session are imported on first use: most scripts only need the client.
    if name == "HTTPRequest":
        from gdhttp.request import HTTPRequest

        return HTTPRequest
    if name in ("Session", "default_session"):
        from gdhttp import session

        return getattr(session, name)
    raise AttributeError(name)
