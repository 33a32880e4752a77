"""The bounded queue between a consumer's feeds and its socket (or SSE stream).

Live events are pushed without waiting (the hub must never block on one slow browser); a
consumer that lets ``limit`` messages pile up is marked overflowed and its transport closes
it (WebSocket 4008). Replays from the log instead wait for room, so a long catch-up never
counts as being slow.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Overflowed(Exception):
    """The consumer fell ``limit`` messages behind; close it (4008) rather than buffer more."""


class Outbox:
    """FIFO of ready-to-send text frames, at most ``limit`` of them."""

    def __init__(self, limit: int) -> None:
        if limit < 2:
            raise ValueError(f"outbox limit must be at least 2, got {limit}")
        self.limit = limit
        self._items: deque[str] = deque()
        self._readable = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._overflow = asyncio.Event()
        self.overflowed = False
        self.high_water = 0

    def __len__(self) -> int:
        return len(self._items)

    def push(self, text: str) -> None:
        """Queue ``text``; past the limit, mark the outbox overflowed and drop it."""
        if self.overflowed:
            return
        if len(self._items) >= self.limit:
            self.overflowed = True
            self._overflow.set()
            self._items.clear()
            self._readable.set()
            self._room.set()
            return
        self._items.append(text)
        self.high_water = max(self.high_water, len(self._items))
        self._readable.set()
        if len(self._items) > self.limit // 2:
            self._room.clear()

    async def room(self) -> int:
        """Wait until at least half the outbox is free; how many messages fit now."""
        await self._room.wait()
        return max(self.limit - len(self._items), 1)

    async def get(self) -> str:
        """The next frame to send; raises Overflowed once the consumer fell too far behind."""
        while not self._items:
            if self.overflowed:
                raise Overflowed(f"more than {self.limit} messages waiting")
            self._readable.clear()
            await self._readable.wait()
        if self.overflowed:
            raise Overflowed(f"more than {self.limit} messages waiting")
        text = self._items.popleft()
        if len(self._items) <= self.limit // 2:
            self._room.set()
        return text

    async def overflow(self) -> None:
        """Raise Overflowed once the consumer falls behind, even while a send is stuck."""
        await self._overflow.wait()
        raise Overflowed(f"more than {self.limit} messages waiting")

    async def get_within(self, timeout_s: float) -> str | None:
        """Like ``get`` but None after ``timeout_s`` with nothing to send (keep-alives)."""
        try:
            return await asyncio.wait_for(self.get(), timeout_s)
        except TimeoutError:
            return None
