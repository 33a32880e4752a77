"""The notification actors: fan an event out, and deliver one webhook attempt.

Thin wrappers: the work is in ``server.domain.notifications`` and
``server.domain.webhook_delivery``.
Failures of the receiver are recorded and rescheduled there; an exception here means our
own side broke (database, Redis) and Dramatiq's retries take the message again. They run
only in ``reelay notifier`` processes (queue ``webhooks``), never beside rendering.
"""

from __future__ import annotations

import dramatiq

from server.adapters.delivery.slots import slots_from_settings
from server.domain.events import Event
from server.domain.notifications import fan_out
from server.domain.webhook_delivery import attempt_delivery
from workers.actors import RetryPolicy, declare_actor
from workers.runtime import current_runtime


def dispatch_event(event_json: str) -> None:
    """Create the deliveries (and email) an appended event calls for."""
    rt = current_runtime()
    rt.run(fan_out(rt.enqueuer, Event.from_json(event_json)))


def deliver_webhook(delivery_id: str, number: int, manual: bool) -> None:
    """Attempt ``number`` of one delivery; a failure queues the next attempt, delayed."""
    rt = current_runtime()
    slots = slots_from_settings(rt.redis, rt.settings)
    rt.run(attempt_delivery(rt.settings, rt.enqueuer, slots, delivery_id, number, manual=manual))


def declare_actors(broker: dramatiq.Broker) -> None:
    """Register the webhook actors on ``broker`` (no global broker at import time)."""
    # An attempt is bounded by webhook_timeout_s; the time limit only catches a hang.
    policy = RetryPolicy(time_limit_ms=120_000, max_retries=10, max_backoff_ms=300_000)
    declare_actor(broker, "dispatch_event", dispatch_event, policy)
    declare_actor(broker, "deliver_webhook", deliver_webhook, policy)
