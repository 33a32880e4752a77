"""A project's events as Server-Sent Events, through the same hub and feed as ``/ws``.

Frames: each event is ``id: <seq>`` + ``data: <event JSON>`` (no ``event:`` name, so an
``EventSource``'s ``onmessage`` sees them all); ``event: reset`` carries
``{"project_id","last_seq"}`` with ``id: <last_seq>`` so a reconnect resumes after it;
``event: subscribed`` marks the end of the replay. Comments keep idle proxies open. A
stream that falls ``ws_send_queue`` messages behind ends; the client reconnects with
``Last-Event-ID`` and loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse

from server.domain.events import EventLog
from server.realtime.feed import Feed
from server.realtime.hub import Hub, HubUnavailable
from server.realtime.outbox import Outbox, Overflowed

#: Milliseconds an EventSource waits before reconnecting.
RETRY_MS = 2000
KEEPALIVE = ": keep-alive\n\n"


class SseSink:
    """A feed's output as SSE frames."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def event(self, seq: int, raw: str) -> None:
        self._outbox.push(f"id: {seq}\ndata: {raw}\n\n")

    def reset(self, project_id: str, last_seq: int) -> None:
        body = json.dumps({"project_id": project_id, "last_seq": last_seq})
        self._outbox.push(f"event: reset\nid: {last_seq}\ndata: {body}\n\n")

    def subscribed(self, project_id: str, last_seq: int) -> None:
        body = json.dumps({"project_id": project_id, "last_seq": last_seq})
        self._outbox.push(f"event: subscribed\ndata: {body}\n\n")

    async def room(self) -> int:
        return await self._outbox.room()


def parse_last_event_id(value: str | None) -> int | None:
    """The seq in a ``Last-Event-ID`` header, or None when absent or not a seq."""
    if value is None or not value.strip().isdigit() or len(value.strip()) > 16:
        return None
    return int(value.strip())


async def _frames(
    hub: Hub, log: EventLog, project_id: str, since: int, queue: int, keepalive_s: float
) -> AsyncIterator[str]:
    outbox = Outbox(queue)
    feed = Feed(project_id, since, log, SseSink(outbox))
    yield f"retry: {RETRY_MS}\n\n"
    try:
        await hub.watch(project_id, feed)
    except HubUnavailable:
        yield ": event bus unavailable; reconnect later\n\n"
        return
    try:
        feed.start()
        while True:
            try:
                frame = await outbox.get_within(keepalive_s)
            except Overflowed:
                yield ": too slow to keep up; reconnect with Last-Event-ID\n\n"
                return
            yield KEEPALIVE if frame is None else frame
    finally:
        feed.close()
        await hub.unwatch(project_id, feed)


def event_stream(
    hub: Hub, log: EventLog, project_id: str, since: int, *, queue: int, keepalive_s: float
) -> StreamingResponse:
    """The ``text/event-stream`` response for ``project_id`` after ``since``."""
    return StreamingResponse(
        _frames(hub, log, project_id, since, queue, keepalive_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
