"""A game's own Python module, listed in gdhttp/python/modules (read from the .pck)."""

from __future__ import annotations

import hashlib
import json
import ssl
import sys

from gdhttp.gdnative import GodotObjectLike, exposed


@exposed(base="Reference")
class GameLogic:
    owner: GodotObjectLike

    def digest(self, data: bytes) -> str:
        return hashlib.sha256(bytes(data)).hexdigest()

    def runtime(self) -> str:
        """Where this interpreter came from, for the test to check."""
        return json.dumps({
            "path": sys.path, "prefix": sys.prefix, "version": sys.version,
            "openssl": ssl.OPENSSL_VERSION, "file": __file__,
            "modules": sorted(
                getattr(m, "__file__", None) or "" for m in list(sys.modules.values())
            ),
        })
