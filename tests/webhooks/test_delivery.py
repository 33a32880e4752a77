"""Signed delivery to a real receiver on 127.0.0.1: retries, 410, timeouts, the 5-day rule,
replay, and the fan-out from an event to deliveries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio

from server.adapters.delivery.post import SNIPPET_BYTES
from server.adapters.delivery.slots import DeliverySlots
from server.adapters.queue import Enqueuer, make_broker
from server.domain.events import Event, EventLog, format_ts, new_event_id
from server.domain.models import (
    Batch,
    DeliveryStatus,
    Export,
    Moment,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    new_id,
)
from server.domain.notifications import fan_out, notify
from server.domain.webhook_delivery import attempt_delivery
from tests.conftest import SettingsFactory
from tests.webhooks.conftest import RecordingEnqueuer, make_endpoint, make_project
from tests.webhooks.receiver import Receiver, Reply

SCHEDULE = (5.0, 300.0, 1800.0)


def completed_event(project_id: str, export_id: str | None = None) -> Event:
    return Event(
        id=new_event_id(),
        seq=7,
        type="export.completed",
        project_id=project_id,
        export_id=export_id or new_id("exp"),
        batch_id=new_id("bat"),
        ts=format_ts(datetime.now(UTC)),
        data={"video_url": "/api/exports/x/video", "size_bytes": 1234, "progress": 1.0},
    )


async def delivery_for(
    enqueuer: RecordingEnqueuer, url: str, user: str = "alice"
) -> tuple[WebhookEndpoint, WebhookDelivery, Event]:
    project = await make_project(user)
    endpoint = await make_endpoint(user, url)
    event = completed_event(project.id)
    [delivery_id] = await fan_out(enqueuer, event)
    return endpoint, await WebhookDelivery.get(id=delivery_id), event


async def attempts_of(delivery: WebhookDelivery) -> list[WebhookAttempt]:
    return list(await WebhookAttempt.filter(delivery_id=delivery.id).order_by("number"))


async def test_delivery_is_the_event_json_signed_per_standard_webhooks(
    db: str,
    settings: SettingsFactory,
    enqueuer: RecordingEnqueuer,
    receiver: Receiver,
    slots: DeliverySlots,
) -> None:
    endpoint, delivery, event = await delivery_for(enqueuer, receiver.url)
    assert [(s.args, s.delay_ms) for s in enqueuer.of("deliver_webhook")] == [
        ((delivery.id, 1, False), None)
    ]
    outcome = await attempt_delivery(settings(), enqueuer, slots, delivery.id, 1)
    assert outcome is not None and outcome.success and outcome.status_code == 200
    [got] = receiver.received
    assert got.body.decode() == event.to_json()
    assert got.verify(endpoint.secret) == event.to_dict()
    assert got.headers["webhook-id"] == event.id
    assert got.headers["content-type"] == "application/json"
    await delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1


async def test_a_500_then_success_keeps_the_webhook_id_and_logs_both_attempts(
    db: str,
    settings: SettingsFactory,
    enqueuer: RecordingEnqueuer,
    receiver: Receiver,
    slots: DeliverySlots,
) -> None:
    receiver.reply(Reply(500, body=b"database down"))
    config = settings(webhook_retry_schedule_s=SCHEDULE)
    endpoint, delivery, event = await delivery_for(enqueuer, receiver.url)
    first = await attempt_delivery(config, enqueuer, slots, delivery.id, 1)
    assert first is not None and not first.success and first.status_code == 500
    retry = enqueuer.of("deliver_webhook")[-1]
    assert retry.args == (delivery.id, 2, False) and retry.delay_ms == 5_000
    await delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None
    assert (
        await attempt_delivery(config, enqueuer, slots, delivery.id, 1) is None
    )  # redelivered: no-op
    second = await attempt_delivery(config, enqueuer, slots, delivery.id, 2)
    assert second is not None and second.success
    first_got, second_got = receiver.received
    assert first_got.headers["webhook-id"] == second_got.headers["webhook-id"] == event.id
    assert first_got.body == second_got.body
    second_got.verify(endpoint.secret)
    log = await attempts_of(delivery)
    assert [(a.number, a.success, a.status_code) for a in log] == [(1, False, 500), (2, True, 200)]
    assert log[0].response_snippet == "database down" and log[0].error == "HTTP 500"
    await endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.enabled


async def test_retries_are_delayed_dramatiq_messages(
    db: str,
    settings: SettingsFactory,
    receiver: Receiver,
    redis_client: redis.asyncio.Redis,
    slots: DeliverySlots,
) -> None:
    """The next attempt waits in the broker's delay queue with its eta; no thread sleeps."""
    config = settings(webhook_retry_schedule_s=(300.0,))
    broker = make_broker(str(config.redis_url))
    real = Enqueuer(broker)
    receiver.reply(Reply(503))
    project = await make_project("alice")
    await make_endpoint("alice", receiver.url)
    [delivery_id] = await fan_out(real, completed_event(project.id))
    before_ms = datetime.now(UTC).timestamp() * 1000
    await attempt_delivery(config, real, slots, delivery_id, 1)
    delayed = [json.loads(m) for m in await redis_client.hvals("reelay:webhooks.DQ.msgs")]
    [retry] = [m for m in delayed if m["args"][1] == 2]
    assert retry["actor_name"] == "deliver_webhook" and retry["args"][0] == delivery_id
    assert retry["options"]["eta"] >= before_ms + 299_000
    broker.close()


async def test_410_gone_disables_the_endpoint_and_stops_retrying(
    db: str,
    settings: SettingsFactory,
    enqueuer: RecordingEnqueuer,
    receiver: Receiver,
    slots: DeliverySlots,
) -> None:
    receiver.reply(Reply(410))
    endpoint, delivery, _ = await delivery_for(enqueuer, receiver.url)
    outcome = await attempt_delivery(settings(), enqueuer, slots, delivery.id, 1)
    assert outcome is not None and outcome.gone
    await endpoint.refresh_from_db()
    await delivery.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason == "gone"
    assert delivery.status == DeliveryStatus.FAILED
    assert len(enqueuer.of("deliver_webhook")) == 1  # only the first attempt was ever queued


async def test_a_timeout_is_a_failed_attempt(
    db: str,
    settings: SettingsFactory,
    enqueuer: RecordingEnqueuer,
    receiver: Receiver,
    slots: DeliverySlots,
) -> None:
    receiver.reply(Reply(200, delay_s=1.5))
    _, delivery, _ = await delivery_for(enqueuer, receiver.url)
    outcome = await attempt_delivery(
        settings(webhook_timeout_s=0.3), enqueuer, slots, delivery.id, 1
    )
    assert outcome is not None and not outcome.success
    assert outcome.error == "timed out after 0.3 s" and outcome.duration_ms < 1_400
    [logged] = await attempts_of(delivery)
    assert logged.error == "timed out after 0.3 s" and logged.status_code is None
    assert enqueuer.of("deliver_webhook")[-1].args[1:] == (2, False)


async def test_redirects_are_not_followed(
    db: str,
    settings: SettingsFactory,
    enqueuer: RecordingEnqueuer,
    receiver: Receiver,
    slots: DeliverySlots,
) -> None:
    receiver.reply(Reply(307, headers=(("location", receiver.url + "/elsewhere"),)))
    _, delivery, _ = await delivery_for(enqueuer, receiver.url)
    outcome = await attempt_delivery(settings(), enqueuer, slots, delivery.id, 1)
    assert outcome is not None and not outcome.success and outcome.status_code == 307
    assert outcome.error == "redirect (307) not followed"
    assert [r.path for r in receiver.received] == ["/hook"]


async def test_the_logged_answer_is_capped(
    db: str,
    settings: SettingsFactory,
    enqueuer: RecordingEnqueuer,
    receiver: Receiver,
    slots: DeliverySlots,
) -> None:
    receiver.reply(Reply(500, body=b"x" * 100_000))
    _, delivery, _ = await delivery_for(enqueuer, receiver.url)
    await attempt_delivery(settings(), enqueuer, slots, delivery.id, 1)
    [logged] = await attempts_of(delivery)
    assert logged.response_snippet == "x" * SNIPPET_BYTES


async def test_the_schedule_ends_in_failure(
    db: str,
    settings: SettingsFactory,
    enqueuer: RecordingEnqueuer,
    receiver: Receiver,
    slots: DeliverySlots,
) -> None:
    receiver.reply(Reply(500), Reply(500))
    config = settings(webhook_retry_schedule_s=(0.0,))
    _, delivery, _ = await delivery_for(enqueuer, receiver.url)
    await attempt_delivery(config, enqueuer, slots, delivery.id, 1)
    await attempt_delivery(config, enqueuer, slots, delivery.id, 2)
    await delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 2
    assert [s.args[1] for s in enqueuer.of("deliver_webhook")] == [1, 2]


async def test_an_endpoint_failing_for_five_days_is_disabled(
    db: str,
    settings: SettingsFactory,
    enqueuer: RecordingEnqueuer,
    receiver: Receiver,
    slots: DeliverySlots,
) -> None:
    receiver.reply(Reply(500))
    endpoint, delivery, _ = await delivery_for(enqueuer, receiver.url)
    since = datetime.now(UTC) - timedelta(days=5, minutes=1)
    await WebhookEndpoint.filter(id=endpoint.id).update(failing_since=since)
    await attempt_delivery(settings(), enqueuer, slots, delivery.id, 1)
    await endpoint.refresh_from_db()
    await delivery.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason == "failing"
    assert delivery.status == DeliveryStatus.FAILED


async def test_queued_attempts_to_a_disabled_endpoint_give_up_without_sending(
    db: str,
    settings: SettingsFactory,
    enqueuer: RecordingEnqueuer,
    receiver: Receiver,
    slots: DeliverySlots,
) -> None:
    endpoint, delivery, _ = await delivery_for(enqueuer, receiver.url)
    await WebhookEndpoint.filter(id=endpoint.id).update(enabled=False)
    assert await attempt_delivery(settings(), enqueuer, slots, delivery.id, 1) is None
    await delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and receiver.received == []


async def test_fan_out_reaches_the_owners_matching_enabled_endpoints_once(
    db: str, enqueuer: RecordingEnqueuer
) -> None:
    project = await make_project("alice")
    wanted = await make_endpoint("alice", "http://a.example/1")
    await make_endpoint("alice", "http://a.example/2", events=["export.failed"])
    off = await make_endpoint("alice", "http://a.example/3")
    await WebhookEndpoint.filter(id=off.id).update(enabled=False)
    await make_endpoint("bob", "http://b.example/1")
    event = completed_event(project.id)
    queued = await fan_out(enqueuer, event)
    assert len(queued) == 1
    delivery = await WebhookDelivery.get(id=queued[0])
    assert delivery.endpoint_id == wanted.id and delivery.payload == event.to_json()
    # A redelivered dispatch adds no delivery; it re-queues a first attempt not yet made.
    assert await fan_out(enqueuer, event) == queued
    assert await WebhookDelivery.all().count() == 1
    await WebhookDelivery.filter(id=delivery.id).update(attempts=1)
    assert await fan_out(enqueuer, event) == []


async def test_notify_hands_over_terminal_events_only(enqueuer: RecordingEnqueuer) -> None:
    event = completed_event("prj_x")
    await notify(enqueuer, event)
    progress = Event(**{**event.to_dict(), "type": "export.progress", "id": new_event_id()})
    await notify(enqueuer, progress)
    assert [(s.actor, s.args) for s in enqueuer.sent] == [("dispatch_event", (event.to_json(),))]


async def test_an_export_asking_for_email_gets_one_queued(
    db: str, enqueuer: RecordingEnqueuer
) -> None:
    project = await make_project("alice")
    moment = await Moment.create(
        id=new_id("mom"), user_id="alice", project=project, start_s=0.0, end_s=1.0
    )
    batch = await Batch.create(id=new_id("bat"), user_id="alice", project=project)
    export = await Export.create(
        id=new_id("exp"),
        user_id="alice",
        project=project,
        moment=moment,
        batch=batch,
        aspect_ratio="9:16",
        resolution="720p",
        notify_email="me@example.com",
    )
    event = completed_event(project.id, export.id)
    await fan_out(enqueuer, event)
    assert [s.args for s in enqueuer.of("send_export_email")] == [(event.to_json(),)]


async def test_batch_completion_notifies_through_the_domain_step(
    db: str, enqueuer: RecordingEnqueuer, redis_client: redis.asyncio.Redis
) -> None:
    from server.domain.batch_completion import complete_batch_if_done

    project = await make_project("alice")
    moment = await Moment.create(
        id=new_id("mom"), user_id="alice", project=project, start_s=0.0, end_s=1.0
    )
    batch = await Batch.create(id=new_id("bat"), user_id="alice", project=project)
    await Export.create(
        id=new_id("exp"),
        user_id="alice",
        project=project,
        moment=moment,
        batch=batch,
        aspect_ratio="9:16",
        resolution="720p",
        status="completed",
    )
    events = EventLog(redis_client, maxlen=100, max_age_s=3600)
    await complete_batch_if_done(events, enqueuer, batch.id)
    [sent] = enqueuer.of("dispatch_event")
    assert Event.from_json(sent.args[0]).type == "batch.completed"


@pytest.mark.parametrize("manual_fails", [False, True])
async def test_manual_replay_sends_the_same_webhook_id_once(
    manual_fails: bool,
    db: str,
    settings: SettingsFactory,
    enqueuer: RecordingEnqueuer,
    receiver: Receiver,
    slots: DeliverySlots,
) -> None:
    receiver.reply(Reply(500), Reply(500 if manual_fails else 200))
    config = settings(webhook_retry_schedule_s=())
    _, delivery, event = await delivery_for(enqueuer, receiver.url)
    await attempt_delivery(config, enqueuer, slots, delivery.id, 1)
    await WebhookDelivery.filter(id=delivery.id).update(status=DeliveryStatus.PENDING)
    outcome = await attempt_delivery(config, enqueuer, slots, delivery.id, 2, manual=True)
    assert outcome is not None and outcome.success is not manual_fails
    assert [r.headers["webhook-id"] for r in receiver.received] == [event.id, event.id]
    log = await attempts_of(delivery)
    assert [(a.number, a.manual) for a in log] == [(1, False), (2, True)]
    assert len(enqueuer.of("deliver_webhook")) == 1  # a manual attempt schedules no retry
