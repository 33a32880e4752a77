"""The caps on webhook POSTs in flight: per endpoint and per user, atomic across processes
(a Redis semaphore), with leases that expire so a killed notifier's slots come back; an
attempt that finds no slot waits in the queue and is not a failed attempt. And a delivery
whose endpoint is deleted while the receiver holds the request ends quietly."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest
import redis.asyncio

from server.adapters.delivery.slots import DeliverySlots, Lease, slots_from_settings
from server.domain.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from server.domain.notifications import fan_out
from server.domain.webhook_delivery import SLOT_WAIT_S, attempt_delivery
from tests.conftest import SettingsFactory
from tests.webhooks.conftest import RecordingEnqueuer, make_endpoint, make_project
from tests.webhooks.receiver import Receiver, Reply
from tests.webhooks.test_delivery import completed_event

pytestmark = pytest.mark.timeout(120)


async def test_parallel_acquires_from_many_clients_never_exceed_either_cap(
    redis_client: redis.asyncio.Redis, redis_url: str
) -> None:
    """Four clients (four would-be processes) race for 3 endpoints' slots of one user."""
    clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(4)]
    try:
        sems = [DeliverySlots(c, per_endpoint=2, per_user=5, lease_s=30) for c in clients]
        tries = [(sems[i % 4], f"whk_{i % 3}") for i in range(60)]
        leases = await asyncio.gather(*(sem.acquire(ep, "alice") for sem, ep in tries))
        taken = Counter(ep for (_, ep), lease in zip(tries, leases, strict=True) if lease)
        assert sum(taken.values()) == 5 and max(taken.values()) == 2
        # Another user is not held back by alice's full cap.
        assert await sems[0].acquire("whk_bob", "bob") is not None
        # A released slot is free again at once, and only one waiter gets it.
        first = next(lease for lease in leases if lease is not None)
        await sems[1].release(first)
        again = await asyncio.gather(*(sem.acquire("whk_9", "alice") for sem in sems))
        assert sum(lease is not None for lease in again) == 1
    finally:
        for client in clients:
            await client.aclose()


async def test_an_unreleased_lease_expires_so_a_killed_notifier_leaks_nothing(
    redis_client: redis.asyncio.Redis,
) -> None:
    slots = DeliverySlots(redis_client, per_endpoint=1, per_user=1, lease_s=0.3)
    assert await slots.acquire("whk_a", "alice") is not None  # its holder "dies" here
    assert await slots.acquire("whk_a", "alice") is None
    await asyncio.sleep(0.4)
    assert await slots.acquire("whk_a", "alice") is not None


async def test_the_settings_size_the_lease_beyond_the_timeout(
    redis_client: redis.asyncio.Redis, settings: SettingsFactory
) -> None:
    config = settings(
        webhook_timeout_s=2.0,
        webhook_max_in_flight_per_endpoint=3,
        webhook_max_in_flight_per_user=7,
    )
    slots = slots_from_settings(redis_client, config)
    assert (slots.per_endpoint, slots.per_user) == (3, 7)
    assert slots.lease_ms > 2_000
    lease = await slots.acquire("whk_a", "alice")
    assert isinstance(lease, Lease)
    ttl_ms = await redis_client.pttl(lease.keys[0])
    assert 2_000 < ttl_ms <= slots.lease_ms


async def deliveries_to(
    enqueuer: RecordingEnqueuer, urls: list[str], events: int, user: str = "alice"
) -> list[str]:
    project = await make_project(user)
    for url in urls:
        await make_endpoint(user, url)
    ids: list[str] = []
    for _ in range(events):
        ids += await fan_out(enqueuer, completed_event(project.id))
    return ids


async def test_an_attempt_without_a_slot_goes_back_to_the_queue_and_is_not_a_failure(
    db: str,
    settings: SettingsFactory,
    enqueuer: RecordingEnqueuer,
    receiver: Receiver,
    redis_client: redis.asyncio.Redis,
) -> None:
    slots = DeliverySlots(redis_client, per_endpoint=1, per_user=16, lease_s=30)
    first, second = await deliveries_to(enqueuer, [receiver.url], events=2)
    config = settings()
    receiver.close_gate()
    holding = asyncio.create_task(attempt_delivery(config, enqueuer, slots, first, 1))
    await asyncio.to_thread(receiver.wait_until, lambda: receiver.held() == 1, "first POST")
    queued_before = len(enqueuer.of("deliver_webhook"))
    assert await attempt_delivery(config, enqueuer, slots, second, 1) is None
    [requeued] = enqueuer.of("deliver_webhook")[queued_before:]
    assert requeued.args == (second, 1, False)  # the same attempt, not the next one
    assert requeued.delay_ms is not None
    assert SLOT_WAIT_S * 1000 <= requeued.delay_ms <= 2 * SLOT_WAIT_S * 1000
    waiting = await WebhookDelivery.get(id=second)
    assert waiting.status == DeliveryStatus.PENDING and waiting.attempts == 0
    assert await WebhookAttempt.filter(delivery_id=second).count() == 0
    receiver.open_gate()
    outcome = await holding
    assert outcome is not None and outcome.success
    # The slot came back: the requeued attempt now goes through as attempt 1.
    retried = await attempt_delivery(config, enqueuer, slots, second, 1)
    assert retried is not None and retried.success
    assert receiver.peak["/hook"] == 1


async def test_concurrent_attempts_overlap_up_to_the_caps_and_never_beyond(
    db: str,
    settings: SettingsFactory,
    enqueuer: RecordingEnqueuer,
    receiver: Receiver,
    redis_client: redis.asyncio.Redis,
) -> None:
    """12 deliveries to 3 endpoints of one user, caps 2 per endpoint and 3 per user."""
    slots = DeliverySlots(redis_client, per_endpoint=2, per_user=3, lease_s=30)
    urls = [f"{receiver.url}/{name}" for name in ("a", "b", "c")]
    ids = await deliveries_to(enqueuer, urls, events=4)
    assert len(ids) == 12
    receiver.reply(*[Reply(200, delay_s=0.3)] * 12)
    config = settings()
    pending = [(delivery_id, 1) for delivery_id in ids]
    for _ in range(40):  # rounds of "run every queued attempt at once", like a notifier
        if not pending:
            break
        seen = len(enqueuer.of("deliver_webhook"))
        await asyncio.gather(*(attempt_delivery(config, enqueuer, slots, d, n) for d, n in pending))
        pending = [(s.args[0], s.args[1]) for s in enqueuer.of("deliver_webhook")[seen:]]
    assert pending == []
    assert receiver.peak_total == 3  # they really overlapped, up to the user's cap
    assert max(receiver.peak.values()) <= 2
    rows = await WebhookDelivery.filter(id__in=ids)
    assert {(r.status, r.attempts) for r in rows} == {(DeliveryStatus.SUCCEEDED, 1)}
    assert await WebhookAttempt.filter(delivery_id__in=ids).count() == 12


async def test_deleting_the_endpoint_while_the_receiver_holds_the_request_ends_quietly(
    db: str,
    settings: SettingsFactory,
    enqueuer: RecordingEnqueuer,
    receiver: Receiver,
    slots: DeliverySlots,
    caplog: pytest.LogCaptureFixture,
) -> None:
    [delivery_id] = await deliveries_to(enqueuer, [receiver.url], events=1)
    receiver.close_gate()
    caplog.set_level(logging.INFO, logger="reelay.webhooks")
    attempt = asyncio.create_task(attempt_delivery(settings(), enqueuer, slots, delivery_id, 1))
    await asyncio.to_thread(receiver.wait_until, lambda: receiver.held() == 1, "the POST")
    endpoint = await WebhookEndpoint.get(id=(await WebhookDelivery.get(id=delivery_id)).endpoint_id)
    await endpoint.delete()  # what DELETE /api/webhooks/{id} does; the delivery cascades
    receiver.open_gate()
    assert await attempt is None
    assert await WebhookAttempt.all().count() == 0
    assert await WebhookDelivery.filter(id=delivery_id).count() == 0
    assert [s.args[1] for s in enqueuer.of("deliver_webhook")] == [1]  # no retry queued
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert any("deleted during attempt 1" in r.getMessage() for r in caplog.records)
    # Its slots were given back: a new endpoint of the same user is not held back.
    assert await slots.acquire("whk_other", "alice") is not None


async def test_an_endpoint_deleted_while_the_event_fans_out_is_skipped_quietly(
    db: str,
    enqueuer: RecordingEnqueuer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The endpoint goes between fan_out listing it and writing its delivery row."""
    project = await make_project("alice")
    doomed = await make_endpoint("alice", "http://127.0.0.1:9/doomed")
    kept = await make_endpoint("alice", "http://127.0.0.1:9/kept")
    original = WebhookDelivery.get_or_create

    async def delete_first(*args: object, **kwargs: object) -> object:
        if kwargs.get("endpoint_id") == doomed.id:
            await WebhookEndpoint.filter(id=doomed.id).delete()
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(WebhookDelivery, "get_or_create", delete_first)
    caplog.set_level(logging.INFO, logger="reelay.notifications")
    [queued] = await fan_out(enqueuer, completed_event(project.id))
    assert (await WebhookDelivery.get(id=queued)).endpoint_id == kept.id
    assert await WebhookDelivery.filter(endpoint_id=doomed.id).count() == 0
    assert any("was deleted meanwhile" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
