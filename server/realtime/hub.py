"""The hub: ONE Redis pub/sub connection per server process, fanned out to local feeds.

Shaped like encode/broadcaster: a single listener task reads the connection and hands each
message to the feeds watching its project. A project's channel is subscribed while at
least one local feed watches it. ``watch`` returns only once Redis has confirmed the
subscription, which is what lets a feed read the log afterwards without missing anything.

When the connection breaks (Redis restarted, network), the listener reconnects with
backoff, re-subscribes every watched channel and calls ``resync`` on each feed once its
channel is confirmed again, so feeds re-read the log from their cursor (or get ``reset``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import redis.asyncio
import redis.exceptions
from redis.asyncio.client import PubSub
from redis.backoff import NoBackoff
from redis.retry import Retry
from starlette.requests import HTTPConnection

from server.adapters.redis_keys import event_channel

log = logging.getLogger(__name__)

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


#: Extra seconds ``stop`` waits for the listener beyond one read timeout.
STOP_GRACE_S = 2.0


class Listener(Protocol):
    """What the hub drives: a ``Feed``."""

    def deliver(self, seq: int, raw: str) -> None: ...

    def resync(self) -> None: ...


class HubUnavailable(Exception):
    """Redis did not confirm a subscription in time; the caller should retry later."""


@dataclass
class _Channel:
    listeners: set[Listener] = field(default_factory=set)
    confirmed: asyncio.Event = field(default_factory=asyncio.Event)
    resync: bool = False


class Hub:
    """Per-process fan-out of project events from Redis to local listeners.

    ``local_sockets`` counts this process's live sockets per user (the per-user limit).
    """

    def __init__(
        self,
        redis_url: str,
        *,
        subscribe_timeout_s: float = 10.0,
        reconnect_max_s: float = 5.0,
        read_timeout_s: float = 1.0,
    ) -> None:
        self._client = redis.asyncio.Redis.from_url(
            redis_url, retry=Retry(NoBackoff(), 0), health_check_interval=0
        )
        self._subscribe_timeout_s = subscribe_timeout_s
        self._reconnect_max_s = reconnect_max_s
        self._read_timeout_s = read_timeout_s
        self._channels: dict[str, _Channel] = {}
        self._outstanding: Counter[str] = Counter()
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.connected = asyncio.Event()
        self.reconnects = 0
        self.local_sockets: Counter[str] = Counter()
        #: live events handed to local sockets and SSE streams since start (``/metrics``)
        self.delivered = 0

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="reelay-hub")

    async def stop(self) -> None:
        """Stop listening; bounded even when redis-py swallows the cancellation mid-read.

        The listener also checks ``_stopping`` after every read (each read times out), so
        it ends by itself within one read timeout if a cancel is lost inside redis-py.
        """
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=self._read_timeout_s + STOP_GRACE_S)
            if not done:
                log.warning("hub: listener did not stop within the grace period; abandoning it")
            elif not task.cancelled() and task.exception() is not None:
                log.warning("hub: listener ended with %r", task.exception())
        await self._drop_pubsub()
        await self._client.aclose()

    async def watch(self, project_id: str, listener: Listener) -> None:
        """Route ``project_id``'s live events to ``listener``; returns once Redis confirmed.

        Raises HubUnavailable (and forgets ``listener``) when Redis does not confirm within
        the subscribe timeout.
        """
        name = event_channel(project_id)
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = _Channel()
            await self._send("subscribe", name)
        channel.listeners.add(listener)
        try:
            await asyncio.wait_for(channel.confirmed.wait(), self._subscribe_timeout_s)
        except TimeoutError as exc:
            await self.unwatch(project_id, listener)
            raise HubUnavailable("the event bus (Redis) is unavailable") from exc

    async def unwatch(self, project_id: str, listener: Listener) -> None:
        """Stop routing to ``listener``; the channel is unsubscribed when nobody is left."""
        name = event_channel(project_id)
        channel = self._channels.get(name)
        if channel is None:
            return
        channel.listeners.discard(listener)
        if not channel.listeners:
            del self._channels[name]
            await self._send("unsubscribe", name)

    async def _send(self, command: str, name: str) -> None:
        pubsub = self._pubsub
        if pubsub is None or not self.connected.is_set():
            return  # the listener subscribes every watched channel when it (re)connects
        try:
            if command == "subscribe":
                self._outstanding[name] += 1
                await pubsub.subscribe(name)
            else:
                await pubsub.unsubscribe(name)
        except REDIS_ERRORS as exc:
            log.info("hub: %s %s failed (%s); the listener reconnects", command, name, exc)

    async def _run(self) -> None:
        backoff = 0.05
        while not self._stopping:
            try:
                await self._connect()
                backoff = 0.05
                await self._listen()
            except REDIS_ERRORS as exc:
                log.warning("hub: Redis pub/sub lost (%s); reconnecting", exc)
            self.connected.clear()
            await self._drop_pubsub()
            if self._stopping:
                return
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, self._reconnect_max_s)

    async def _connect(self) -> None:
        pubsub = self._client.pubsub()
        self._pubsub = pubsub
        self._outstanding.clear()
        await pubsub.connect()  # type: ignore[no-untyped-call]
        first = self.reconnects == 0 and not self.connected.is_set()
        names = list(self._channels)
        for name in names:
            channel = self._channels[name]
            channel.confirmed.clear()
            channel.resync = True
        if names:
            self._outstanding.update(names)
            await pubsub.subscribe(*names)
        if not first:
            self.reconnects += 1
        self.connected.set()

    async def _listen(self) -> None:
        pubsub = self._pubsub
        assert pubsub is not None
        while not self._stopping:
            message = await pubsub.get_message(timeout=self._read_timeout_s)
            if message is None:
                if pubsub.connection is None or not pubsub.connection.is_connected:
                    raise redis.exceptions.ConnectionError("pub/sub connection closed")
                continue
            self._handle(cast(dict[str, Any], message))

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        raw_name = message["channel"]
        name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
        channel = self._channels.get(name)
        if kind == "subscribe":
            self._outstanding[name] -= 1
            if channel is not None and self._outstanding[name] <= 0:
                del self._outstanding[name]
                channel.confirmed.set()
                if channel.resync:
                    channel.resync = False
                    for listener in list(channel.listeners):
                        listener.resync()
            return
        if kind != "message" or channel is None:
            return
        data = message["data"]
        raw = data.decode() if isinstance(data, bytes) else str(data)
        try:
            seq = int(json.loads(raw)["seq"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("hub: dropping a malformed event on %s: %s", name, exc)
            return
        for listener in list(channel.listeners):
            listener.deliver(seq, raw)
        self.delivered += len(channel.listeners)

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                await pubsub.aclose()  # type: ignore[no-untyped-call]


def hub_of(conn: HTTPConnection) -> Hub:
    """The hub the lifespan started for this app."""
    return cast(Hub, conn.app.state.hub)
