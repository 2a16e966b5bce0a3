"""``StepThread``: HTTPRequest's ``use_threads`` worker, knowing nothing of HTTP.

It calls ``connect()`` once, then ``step()`` until that returns None or ``stop()``
is called. Between steps it waits as ``step`` says: not at all, a short nap, or
until a stream is readable (or writable) - never longer than THREAD_IDLE_WAIT_S,
so ``stop()`` returns within one step plus that wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from gdhttp import limits
from gdhttp.transport import wait_stream

__all__ = ["GO_ON", "NAP", "StepThread", "Wait"]

#: What ``step`` returns: None (finished), GO_ON, NAP, or (stream, for_write).
Wait = tuple[Any, bool]
GO_ON: Wait = (True, False)
NAP: Wait = (None, False)  # connecting, or a chunked upload whose end can't be seen


class StepThread:
    def __init__(self, connect: Callable[[], bool], step: Callable[[], Wait | None]) -> None:
        self._connect = connect
        self._step = step
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gdhttp-HTTPRequest",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to end and wait for it (unless called from the loop itself)."""
        self._stop.set()
        if self._thread is not threading.current_thread() and self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        if not self._connect():
            return
        while not self._stop.is_set():
            wait = self._step()
            if wait is None:
                return
            stream, for_write = wait
            if stream is None:
                self._stop.wait(limits.THREAD_IDLE_WAIT_S / 5)
            elif stream is not True:
                wait_stream(stream, for_write, limits.THREAD_IDLE_WAIT_S)
