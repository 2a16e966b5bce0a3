"""The GDNative bridge: Python classes as Godot NativeScript classes.

Knows nothing about HTTP. ``tags`` (``exposed``, ``export``, ``signal``) is
plain Python and imports anywhere; the rest needs the engine and is wired by
``_entry`` when Godot loads ``libgdhttp.so`` (built by ``build``).
"""

from __future__ import annotations

from gdhttp.gdnative.tags import GodotObjectLike, export, exposed, signal

__all__ = ["GodotObjectLike", "export", "exposed", "signal"]
