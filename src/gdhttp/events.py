"""HTTPRequest's events: ``Hook`` (a minimal signal) and ``Outbox`` (events waiting for
the caller's thread).

A step (on the main thread, or in the ``use_threads`` worker) puts events in the
outbox; ``process()`` flushes them on the caller's thread. Progress events are
coalesced (the latest of each kind wins), so at most one of each is emitted per
``process()``, then the completion. Streamed body chunks are kept in order
(small ones merged) and emitted before the download progress that counts them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from gdhttp import limits
from gdhttp.constants import Error

__all__ = ["Hook", "Outbox"]

log = logging.getLogger("gdhttp")

CompletionArgs = tuple[int, int, list[str], bytes]


class Hook:
    """A minimal signal: ``connect(fn)``, ``disconnect(fn)``; emitted by HTTPRequest."""

    __slots__ = ("_callbacks", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Error:
        if not callable(callback) or callback in self._callbacks:
            return Error.ERR_INVALID_PARAMETER
        self._callbacks.append(callback)
        return Error.OK

    def disconnect(self, callback: Callable[..., Any]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def is_connected(self, callback: Callable[..., Any]) -> bool:
        return callback in self._callbacks

    def emit(self, *args: Any) -> None:
        """Call every callback; one that raises is logged and the others still run."""
        for callback in list(self._callbacks):
            try:
                callback(*args)
            except Exception:  # the caller's code: report it, keep delivering
                log.exception("gdhttp: %s callback %r raised", self.name, callback)


class Outbox:
    """Upload progress, download progress and the completion, waiting for ``flush``.

    Its own small lock: a worker's step never makes the caller's ``process()`` wait.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()  # also guards the request's timeout clock
        self._upload: tuple[int, int] | None = None
        self._download: tuple[int, int] | None = None
        self._completion: CompletionArgs | None = None
        self._chunks: list[bytearray | bytes] = []  # streamed body pieces, merged while small
        self.chunk_backlog = 0  # their total size (the worker stops reading above a limit)
        self._epoch = 0  # bumped by clear(): a flush stops when a callback cancels

    @property
    def completion_waiting(self) -> bool:
        return self._completion is not None

    def put_chunk(self, data: bytes) -> None:
        """Queue a streamed body piece; small pieces merge up to STREAM_CHUNK_MERGE bytes."""
        with self.lock:
            chunks = self._chunks
            last = chunks[-1] if chunks else None
            if isinstance(last, bytearray) and \
                    len(last) + len(data) <= limits.STREAM_CHUNK_MERGE:
                last += data
            elif len(data) < limits.STREAM_CHUNK_MERGE:
                chunks.append(bytearray(data))  # small: later pieces may join it
            else:
                chunks.append(bytes(data))  # large: emitted as is, no copy of a copy
            self.chunk_backlog += len(data)

    def put_upload(self, sent: int, total: int) -> None:
        with self.lock:
            self._upload = (sent, total)

    def put_download(self, downloaded: int, total: int) -> None:
        with self.lock:
            self._download = (downloaded, total)

    def put_completion(self, args: CompletionArgs,
                       and_then: Callable[[], None] | None = None) -> None:
        """Queue the completion; ``and_then`` runs under the same lock (the request
        clears its busy flag there, so no reader ever sees neither)."""
        with self.lock:
            if and_then is not None:
                and_then()
            self._completion = args

    def clear(self) -> None:
        with self.lock:
            self._upload = self._download = self._completion = None
            self._chunks = []
            self.chunk_backlog = 0
            self._epoch += 1

    def flush(self, upload: Hook, download: Hook, completed: Hook,
              chunk: Hook | None = None) -> None:
        """Emit what waits, in order: upload, body chunks, download, completion."""
        with self.lock:
            up, self._upload = self._upload, None
            down, self._download = self._download, None
            done, self._completion = self._completion, None
            chunks, self._chunks = self._chunks, []
            self.chunk_backlog = 0
            epoch = self._epoch
        if up is not None:
            upload.emit(*up)
        if chunk is not None:
            for piece in chunks:
                if self._epoch != epoch:
                    return  # a callback cancelled the request: nothing more of it
                chunk.emit(bytes(piece))
        if self._epoch != epoch:
            return
        if down is not None:
            download.emit(*down)
        if done is not None:
            completed.emit(*done)
