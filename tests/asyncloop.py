"""Helpers for the asyncio tests: a ticker task that measures how long the loop was blocked,
a runner for one scenario per event loop, and slow replies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from httpserver import Reply

T = TypeVar("T")


class Ticker:
    """A task that wakes every millisecond and records the longest gap between wake-ups:
    how long the loop was kept from running anything else."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.max_gap = max(self.max_gap, now - last)
            self.ticks += 1
            last = now

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.ensure_future(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run one scenario on a fresh event loop, as `asyncio.run` does for an application."""

    async def main() -> T:
        return await coro_fn()

    return asyncio.run(main())


def slow(reply: Reply, seconds: float) -> Reply:
    """`reply`, answered after `seconds`."""
    reply.delay = seconds
    return reply
