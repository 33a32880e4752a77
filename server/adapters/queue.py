"""Sending work to the Dramatiq workers by actor name, so the web side never imports them.

Messages carry IDs only; the workers read everything else from the database.
"""

from __future__ import annotations

import asyncio
from typing import Any

import dramatiq
from dramatiq.broker import Consumer
from dramatiq.brokers.redis import RedisBroker

from server.adapters.redis_keys import NAMESPACE

#: actor name → queue it listens on. Exports are planned/finished on one queue and
#: chunks rendered on another, so long chunk backlogs never delay a finalizer.
#: Notifications have queues of their own, consumed only by ``reelay notifier``, so a
#: slow webhook receiver or mail server never holds a render thread.
ACTOR_QUEUES: dict[str, str] = {
    "plan_export": "exports",
    "render_chunk": "chunks",
    "render_audio": "chunks",
    "finalize_export": "exports",
    "drop_preview": "exports",
    "align_moment": "exports",
    "deliver_webhook": "webhooks",
    "dispatch_event": "webhooks",
    "send_export_email": "email",
}

#: What ``reelay worker`` consumes: rendering only.
RENDER_QUEUES: tuple[str, ...] = ("chunks", "exports")
#: What ``reelay notifier`` consumes: webhook deliveries and emails.
NOTIFICATION_QUEUES: tuple[str, ...] = ("email", "webhooks")

#: Broker commands per million that also requeue dead workers' messages. Dramatiq's
#: default (1000, i.e. 0.1 %) can leave a crashed worker's chunk waiting for many
#: minutes; 5 % makes idle consumers (ten fetches a second) sweep within seconds.
MAINTENANCE_CHANCE = 50_000
#: Longest an idle consumer sleeps between two fetches (ms). Dramatiq backs off up to the
#: worker timeout (1 s), so a chunk sent to idle workers could wait most of a second before
#: one looked: on a 6 s chunk that is a sixth of its time, and the first preview waits
#: twice (plan, then chunk). A fetch is one small script call: ten a second per queue is
#: nothing for Redis.
IDLE_POLL_MS = 100


class PromptRedisBroker(RedisBroker):
    """Dramatiq's Redis broker, with idle consumers that look for work every
    ``IDLE_POLL_MS`` at most."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)  # type: ignore[no-untyped-call]

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        return super().consume(queue_name, prefetch, min(timeout, IDLE_POLL_MS))


def make_broker(redis_url: str, *, heartbeat_timeout_s: float = 15.0) -> RedisBroker:
    """The Redis broker both sides use; workers add their middleware to it.

    A worker silent for ``heartbeat_timeout_s`` counts as dead: its unacked messages go
    back to their queues at the next maintenance sweep (any process's broker runs it).
    """
    return PromptRedisBroker(
        url=redis_url,
        namespace=NAMESPACE,
        heartbeat_timeout=int(heartbeat_timeout_s * 1000),
        maintenance_chance=MAINTENANCE_CHANCE,
    )


def build_message(actor_name: str, *args: Any) -> dramatiq.Message[Any]:
    """A message for ``actor_name`` on its queue; raises KeyError for an unknown actor."""
    return dramatiq.Message(
        queue_name=ACTOR_QUEUES[actor_name],
        actor_name=actor_name,
        args=args,
        kwargs={},
        options={},
    )


class Enqueuer:
    """Sends messages from async code without blocking the event loop on Redis I/O."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self.broker = broker

    def send_now(self, actor_name: str, *args: Any, delay_ms: int | None = None) -> None:
        """Blocking send, for worker code that already runs off the event loop."""
        self.broker.enqueue(build_message(actor_name, *args), delay=delay_ms)

    async def send(self, actor_name: str, *args: Any, delay_ms: int | None = None) -> None:
        await asyncio.to_thread(self.send_now, actor_name, *args, delay_ms=delay_ms)

    async def start_export(self, export_id: str, attempt: int) -> None:
        """Queue the planning step of one export attempt (see workers.export_actors)."""
        await self.send("plan_export", export_id, attempt)
