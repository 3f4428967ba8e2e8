"""Helpers of the adapters' event-loop tests: a slow encoder and an asyncio ticker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from shared import HashingEncoder


class SlowEncoder:
    """A hashing encoder that takes 0.2 s per call, like a model encoding on the CPU."""

    def __init__(self) -> None:
        self.inner = HashingEncoder(n_features=64)

    @property
    def name(self) -> str:
        return "slow:" + self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(self, texts: Any) -> Any:
        time.sleep(0.2)
        return self.inner.encode(texts)


async def ticks_during(call: Callable[[], Awaitable[Any]]) -> int:
    """How often a 10 ms asyncio ticker ran while ``call()`` was awaited."""
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    await call()
    done.set()
    await task
    return ticks
