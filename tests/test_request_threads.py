"""use_threads: the worker ends a request while the caller's thread watches is_requesting()."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gdhttp.constants import Result
from gdhttp.events import Outbox
from gdhttp.request import HTTPRequest


def test_is_requesting_never_drops_a_completion_in_flight(
        nginx_http: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A driver (like the node) stops calling process() once is_requesting() is False.

    The worker's completion is slowed down on purpose: the request must count as
    running until the completion is queued, or the driver stops and never delivers it.
    """
    original = Outbox.put_completion

    def slow_put(self: Outbox, *args: Any, **kwargs: Any) -> None:
        time.sleep(0.05)  # the window in which the old code said "not requesting"
        original(self, *args, **kwargs)

    monkeypatch.setattr(Outbox, "put_completion", slow_put)
    for _ in range(5):
        req = HTTPRequest()
        req.set_in_tree(True)
        req.set_use_threads(True)
        results: list[int] = []
        req.request_completed.connect(lambda result, *rest, out=results: out.append(result))
        assert req.request(nginx_http.url("/files/1k.bin")) == 0
        deadline = time.monotonic() + 10
        while req.is_requesting() and time.monotonic() < deadline:
            req.process(0.016)
            time.sleep(0.001)
        req.process(0.016)  # nothing may be left for a frame after the last "requesting"
        assert results == [Result.RESULT_SUCCESS]
        req.cancel_request()
