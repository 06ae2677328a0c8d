"""Lanes of worker threads that do not share anyio's default pool.

FastAPI runs every sync route, every sync dependency and every ``run_in_threadpool`` call on
one pool of 40 thread tokens. Work that can pile up (fifty previews admitted at once) or that
must answer while everything else is busy (``/healthz``) gets a lane of its own: its calls wait
only for their own lane's tokens, never behind the default pool's queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio

T = TypeVar("T")


class ThreadLane:
    """At most `size` calls at a time, each in a worker thread; the rest wait on the event loop
    (holding no thread). The limiter is made on first use: anyio needs a running loop."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.size)
        return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)
