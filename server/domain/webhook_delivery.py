"""Delivering one event to one endpoint: one attempt now, the next one scheduled.

Attempts are at least once: a worker that dies mid-POST has its message redelivered and
the POST may be repeated, with the same ``webhook-id`` so receivers can deduplicate. The
next attempt is a Dramatiq message delayed by the schedule (never a sleep), so a worker
holds no thread while an endpoint is down. An attempt first takes a slot under the
per-endpoint and per-user caps; without one it goes back to the queue shortly, and that
wait is not a failed attempt. The endpoint (and with it the delivery) may be deleted at
any moment; the attempt then ends quietly with nothing recorded.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from redis.exceptions import RedisError
from tortoise.exceptions import IntegrityError

from server.adapters.delivery.post import Outcome, post_signed
from server.adapters.delivery.signing import signed_headers
from server.adapters.delivery.slots import DeliverySlots, Lease
from server.adapters.delivery.ssrf import Resolver, system_resolver
from server.adapters.queue import Enqueuer
from server.clock import Clock, utcnow
from server.domain.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from server.settings import Settings

logger = logging.getLogger("reelay.webhooks")

DELIVER_ACTOR = "deliver_webhook"

#: An attempt that finds its caps full is queued again after this long plus up to as much
#: again at random, so waiting attempts spread out instead of retrying in step.
SLOT_WAIT_S = 0.5


def retry_delay_s(schedule: tuple[float, ...], failed_attempt: int) -> float | None:
    """Seconds to wait after failed attempt ``failed_attempt`` (1-based); None: give up."""
    if 1 <= failed_attempt <= len(schedule):
        return schedule[failed_attempt - 1]
    return None


async def enqueue_attempt(
    enqueuer: Enqueuer, delivery_id: str, number: int, *, manual: bool, delay_s: float = 0.0
) -> None:
    """Queue attempt ``number`` of a delivery, ``delay_s`` from now."""
    delay_ms = int(delay_s * 1000) or None
    await enqueuer.send(DELIVER_ACTOR, delivery_id, number, manual, delay_ms=delay_ms)


async def _disable(endpoint: WebhookEndpoint, reason: str) -> None:
    if await WebhookEndpoint.filter(id=endpoint.id, enabled=True).update(
        enabled=False, disabled_reason=reason
    ):
        logger.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)
    endpoint.enabled = False


async def _record_health(
    endpoint: WebhookEndpoint, outcome: Outcome, now: datetime, disable_after_s: float
) -> None:
    """Success clears the failing streak; 410 or a streak past the limit disables."""
    if outcome.success:
        await WebhookEndpoint.filter(id=endpoint.id).update(failing_since=None)
        return
    if outcome.gone:
        await _disable(endpoint, "gone")
        return
    since = endpoint.failing_since
    if since is None:
        await WebhookEndpoint.filter(id=endpoint.id, failing_since=None).update(failing_since=now)
    elif now - since >= timedelta(seconds=disable_after_s):
        await _disable(endpoint, "failing")


async def _release(slots: DeliverySlots, lease: Lease) -> None:
    try:
        await slots.release(lease)
    except RedisError as exc:
        logger.warning("webhook slot release failed (%s); the lease expires on its own", exc)


async def _record_attempt(delivery_id: str, number: int, manual: bool, outcome: Outcome) -> bool:
    """Log the attempt; False when the delivery was deleted (with its endpoint) meanwhile."""
    try:
        await WebhookAttempt.create(
            delivery_id=delivery_id,
            number=number,
            manual=manual,
            success=outcome.success,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            response_snippet=outcome.snippet,
            error=outcome.error,
        )
    except IntegrityError:
        if await WebhookDelivery.exists(id=delivery_id):
            raise  # not the vanished delivery: our own bug, for Dramatiq's retries to show
        return False
    return True


async def attempt_delivery(
    settings: Settings,
    enqueuer: Enqueuer,
    slots: DeliverySlots,
    delivery_id: str,
    number: int,
    *,
    manual: bool = False,
    resolver: Resolver = system_resolver,
    clock: Clock = utcnow,
) -> Outcome | None:
    """Make attempt ``number`` of a delivery, log it, and schedule the next if it failed.

    Returns the attempt's outcome, or None when there was nothing to do (the delivery or
    its endpoint is gone, it is already settled, this attempt was made before — a
    redelivered message — or the caps are full and the attempt was queued again). A
    manual attempt (a replay asked for by the user) is one attempt: no retries follow.
    """
    delivery = await WebhookDelivery.get_or_none(id=delivery_id)
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return None
    if delivery.attempts >= number:
        return None
    endpoint = await WebhookEndpoint.get_or_none(id=delivery.endpoint_id)
    if endpoint is None:
        logger.info("webhook %s: its endpoint was deleted; nothing to send", delivery.id)
        return None
    if not endpoint.enabled:
        await WebhookDelivery.filter(id=delivery.id).update(
            status=DeliveryStatus.FAILED, next_attempt_at=None
        )
        return None
    lease = await slots.acquire(endpoint.id, delivery.user_id)
    if lease is None:
        wait_s = SLOT_WAIT_S * (1.0 + random.random())
        await enqueue_attempt(enqueuer, delivery.id, number, manual=manual, delay_s=wait_s)
        logger.debug("webhook %s attempt %d waits for a slot", delivery.id, number)
        return None
    now = clock()
    try:
        outcome = await post_signed(
            endpoint.url,
            delivery.payload,
            signed_headers(endpoint.secret, delivery.event_id, delivery.payload, now),
            timeout_s=settings.webhook_timeout_s,
            allow_private=settings.webhooks_allow_private,
            resolver=resolver,
        )
    finally:
        await _release(slots, lease)
    if not await _record_attempt(delivery.id, number, manual, outcome):
        logger.info(
            "webhook %s: endpoint %s was deleted during attempt %d; nothing recorded",
            delivery.id,
            endpoint.id,
            number,
        )
        return None
    await _record_health(endpoint, outcome, now, settings.webhook_disable_after_s)
    delay = None if manual else retry_delay_s(settings.webhook_retry_schedule_s, number)
    if outcome.success:
        status, next_at = DeliveryStatus.SUCCEEDED, None
    elif delay is None or not endpoint.enabled:
        status, next_at = DeliveryStatus.FAILED, None
    else:
        status, next_at = DeliveryStatus.PENDING, now + timedelta(seconds=delay)
    updated = await WebhookDelivery.filter(id=delivery.id).update(
        status=status, attempts=number, next_attempt_at=next_at
    )
    if updated and next_at is not None and delay is not None:
        await enqueue_attempt(enqueuer, delivery.id, number + 1, manual=False, delay_s=delay)
    logger.info(
        "webhook %s attempt %d to %s: %s",
        delivery.id,
        number,
        endpoint.id,
        "ok" if outcome.success else outcome.error,
    )
    return outcome
