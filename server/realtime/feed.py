"""One consumer's ordered view of one project's events: each seq once, in order, no gap.

The proof of "no gap, no duplicate at the switch from replay to live": the hub confirms
the Redis subscription *before* the feed reads the log, so every event is either in the
log read or arrives live afterwards (the append script stores and publishes atomically).
Live events that arrive while the log is being read wait in ``_pending``; the feed keeps
``cursor`` (the last seq handed to the sink) and forwards only ``cursor + 1``. Any jump
ahead — during the switch, after a lost pub/sub message, after the hub reconnected — sends
the feed back to the log, which fills the gap or answers ``reset``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import redis.exceptions

from server.domain.events import EventLog

log = logging.getLogger(__name__)

#: Live events held while catching up; past this the log is read again instead.
MAX_PENDING = 1_000
#: Backoff between attempts to read the log while Redis is unreachable.
RETRY_MIN_S = 0.1
RETRY_MAX_S = 5.0
#: The log's own page limit (docs/api.md: at most 500 events per read).
PAGE = 500


class Sink(Protocol):
    """Where a feed's output goes: a WebSocket session or an SSE stream."""

    def event(self, seq: int, raw: str) -> None: ...

    def reset(self, project_id: str, last_seq: int) -> None: ...

    def subscribed(self, project_id: str, last_seq: int) -> None: ...

    async def room(self) -> int: ...


class Feed:
    """Replays ``project_id`` after ``cursor`` from ``log`` into ``sink``, then goes live.

    Register it with ``Hub.watch`` first, then ``start()`` it; the hub calls ``deliver``
    for each live event and ``resync`` after reconnecting to Redis.
    """

    def __init__(self, project_id: str, cursor: int, log: EventLog, sink: Sink) -> None:
        self.project_id = project_id
        self.cursor = cursor
        self._log = log
        self._sink = sink
        self._pending: list[tuple[int, str]] = []
        self._catching_up = True
        self._again = False
        self._task: asyncio.Task[None] | None = None
        self._announced = False
        self._closed = False

    def start(self) -> None:
        """Begin the replay; ``subscribed`` follows it, then live events."""
        self._spawn()

    def deliver(self, seq: int, raw: str) -> None:
        """A live event from the hub (called in the event loop, never blocks)."""
        if self._closed:
            return
        if self._catching_up:
            if len(self._pending) >= MAX_PENDING:
                self._pending.clear()  # all of them are in the log; read it again
                self._again = True
            else:
                self._pending.append((seq, raw))
            self._spawn()
            return
        if seq <= self.cursor:
            return
        if seq == self.cursor + 1:
            self.cursor = seq
            self._sink.event(seq, raw)
            return
        self._catching_up = True
        self._pending.append((seq, raw))
        self._spawn()

    def resync(self) -> None:
        """The hub reconnected: events may have been missed, so read the log again."""
        if self._closed:
            return
        self._catching_up = True
        self._again = True
        self._spawn()

    def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()

    def _spawn(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._catch_up())

    async def _catch_up(self) -> None:
        delay = RETRY_MIN_S
        while True:
            try:
                self._again = False
                await self._read_log()
            except (
                redis.exceptions.ConnectionError,
                redis.exceptions.TimeoutError,
                OSError,
            ) as exc:
                # Redis is away (restarting): keep the cursor, hold live events, try again.
                log.info("feed %s: log unreadable (%s); retrying", self.project_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            if self._drain_pending() and not self._again:
                self._catching_up = False
                break
        if not self._announced:
            self._announced = True
            self._sink.subscribed(self.project_id, self.cursor)

    async def _read_log(self) -> None:
        while True:
            limit = min(await self._sink.room(), PAGE)
            page = await self._log.read_since(self.project_id, self.cursor, limit=limit)
            if page.reset:
                self.cursor = page.last_seq
                self._sink.reset(self.project_id, page.last_seq)
                return
            for event in page.events:
                if event.seq == self.cursor + 1:
                    self.cursor = event.seq
                    self._sink.event(event.seq, event.to_json())
            if len(page.events) < limit or not page.events:
                return

    def _drain_pending(self) -> bool:
        """Forward held live events that follow on; False if one is still missing."""
        pending = sorted(self._pending)
        self._pending = []
        for index, (seq, raw) in enumerate(pending):
            if seq <= self.cursor:
                continue
            if seq != self.cursor + 1:
                self._pending = pending[index:]
                return False
            self.cursor = seq
            self._sink.event(seq, raw)
        return True
