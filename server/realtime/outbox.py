"""The bounded queue between a consumer's feeds and its socket (or SSE stream).

Live events are pushed without waiting (the hub must never block on one slow browser); a
consumer that lets ``limit`` messages pile up is marked overflowed and its transport closes
it (WebSocket 4008). Replays from the log instead wait for room, so a long catch-up never
counts as being slow. Kept small (futures, not Events): a server holds thousands of these.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable


class Overflowed(Exception):
    """The consumer fell ``limit`` messages behind; close it (4008) rather than buffer more."""


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class Outbox:
    """FIFO of ready-to-send text frames, at most ``limit`` of them; one reader.

    ``on_overflow`` runs once when the limit is passed, e.g. to stop a send that is stuck
    behind a peer that stopped reading.
    """

    __slots__ = (
        "_items",
        "_reader",
        "_room",
        "_waiting_once",
        "high_water",
        "limit",
        "on_overflow",
        "overflowed",
    )

    def __init__(self, limit: int, on_overflow: Callable[[], object] | None = None) -> None:
        if limit < 2:
            raise ValueError(f"outbox limit must be at least 2, got {limit}")
        self.limit = limit
        self.on_overflow = on_overflow
        self._items: deque[str] = deque()
        self._reader: asyncio.Future[None] | None = None
        self._room: list[asyncio.Future[None]] = []
        self._waiting_once: set[str] | None = None
        self.overflowed = False
        self.high_water = 0

    def __len__(self) -> int:
        return len(self._items)

    def push(self, text: str) -> None:
        """Queue ``text``; past the limit, mark the outbox overflowed and drop it all."""
        if self.overflowed:
            return
        if len(self._items) >= self.limit:
            self.overflowed = True
            self._items.clear()
            self._waiting_once = None
            _wake(self._reader)
            self._wake_room()
            if self.on_overflow is not None:
                self.on_overflow()
            return
        self._items.append(text)
        if len(self._items) > self.high_water:
            self.high_water = len(self._items)
        _wake(self._reader)

    def push_once(self, text: str) -> bool:
        """Queue ``text`` unless the same frame already waits unsent (then it answers for
        both); whether it was queued. For replies a client can ask for in bursts (pongs),
        so a burst costs one slot, never an overflow."""
        if self._waiting_once is not None and text in self._waiting_once:
            return False
        self.push(text)
        if not self.overflowed:
            if self._waiting_once is None:
                self._waiting_once = set()
            self._waiting_once.add(text)
        return True

    async def room(self) -> int:
        """Wait until at least half the outbox is free; how many messages fit now."""
        while len(self._items) > self.limit // 2 and not self.overflowed:
            waiter = asyncio.get_running_loop().create_future()
            self._room.append(waiter)
            await waiter
        return max(self.limit - len(self._items), 1)

    async def get(self) -> str:
        """The next frame to send; raises Overflowed once the consumer fell too far behind."""
        while not self._items:
            if self.overflowed:
                raise Overflowed(f"more than {self.limit} messages waiting")
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        if self.overflowed:
            raise Overflowed(f"more than {self.limit} messages waiting")
        text = self._items.popleft()
        if self._waiting_once is not None:
            self._waiting_once.discard(text)
        if self._room and len(self._items) <= self.limit // 2:
            self._wake_room()
        return text

    async def get_within(self, timeout_s: float) -> str | None:
        """Like ``get`` but None after ``timeout_s`` with nothing to send (keep-alives)."""
        try:
            return await asyncio.wait_for(self.get(), timeout_s)
        except TimeoutError:
            return None

    def _wake_room(self) -> None:
        waiters, self._room = self._room, []
        for waiter in waiters:
            _wake(waiter)
