"""Where an event becomes notifications: webhook deliveries and emails.

Emitters call ``notify`` right after appending an event; it only enqueues one
``dispatch_event`` message, so neither the request path nor the render path waits on a
receiver. The notifier then runs ``fan_out``: one delivery per matching enabled endpoint
of the project's owner (an endpoint deleted meanwhile is skipped), and an email when the
export asked for one.
"""

from __future__ import annotations

import logging

from tortoise.exceptions import IntegrityError

from server.adapters.queue import Enqueuer
from server.domain.events import TERMINAL_EVENT_TYPES, Event
from server.domain.models import (
    DeliveryStatus,
    Export,
    Project,
    WebhookDelivery,
    WebhookEndpoint,
    new_id,
)
from server.domain.webhook_delivery import enqueue_attempt

logger = logging.getLogger("reelay.notifications")

DISPATCH_ACTOR = "dispatch_event"
EMAIL_ACTOR = "send_export_email"

#: What an endpoint may subscribe to: the end of every export and batch, the start,
#: (asked for by name only) the preview's growth, once per chunk at most, and the end of
#: a moment's word alignment. Progress stays
#: on the live transports (it would be hundreds of POSTs per export).
WEBHOOK_EVENT_TYPES: tuple[str, ...] = (
    "export.started",
    "export.preview",
    *sorted(TERMINAL_EVENT_TYPES),
    "moment.aligned",
    "moment.align_failed",
)

#: Events that end an export with something to tell its ``notify_email``.
EMAIL_EVENT_TYPES = frozenset({"export.completed", "export.failed"})


async def notify(enqueuer: Enqueuer, event: Event) -> None:
    """Hand ``event`` to the notification workers if anyone could want it (one message)."""
    if event.type in WEBHOOK_EVENT_TYPES:
        await enqueuer.send(DISPATCH_ACTOR, event.to_json())


async def _owner(event: Event) -> str | None:
    project = await Project.get_or_none(id=event.project_id)
    return None if project is None else project.user_id


async def _deliver_to_endpoints(enqueuer: Enqueuer, event: Event, owner: str) -> list[str]:
    payload = event.to_json()
    queued: list[str] = []
    for endpoint in await WebhookEndpoint.filter(user_id=owner, enabled=True).order_by("id"):
        if event.type not in endpoint.events:
            continue
        try:
            delivery, created = await WebhookDelivery.get_or_create(
                endpoint_id=endpoint.id,
                event_id=event.id,
                defaults={
                    "id": new_id("whd"),
                    "user_id": owner,
                    "event_type": event.type,
                    "payload": payload,
                },
            )
        except IntegrityError:
            if await WebhookEndpoint.exists(id=endpoint.id):
                raise  # not a vanished endpoint: our own bug, for Dramatiq's retries to show
            logger.info("event %s: endpoint %s was deleted meanwhile", event.id, endpoint.id)
            continue
        # A redelivered dispatch re-queues a first attempt that may never have been queued.
        if created or (delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0):
            await enqueue_attempt(enqueuer, delivery.id, 1, manual=False)
            queued.append(delivery.id)
    return queued


async def fan_out(enqueuer: Enqueuer, event: Event) -> list[str]:
    """Create and queue the deliveries of ``event`` (and its email); returns delivery IDs.

    Safe to run twice for one event: deliveries are unique per (endpoint, event).
    """
    owner = await _owner(event)
    if owner is None:
        logger.info("event %s: project %s is gone; nobody to notify", event.id, event.project_id)
        return []
    queued = await _deliver_to_endpoints(enqueuer, event, owner)
    if event.type in EMAIL_EVENT_TYPES and event.export_id:
        export = await Export.get_or_none(id=event.export_id)
        if export is not None and export.notify_email:
            await enqueuer.send(EMAIL_ACTOR, event.to_json())
    return queued
