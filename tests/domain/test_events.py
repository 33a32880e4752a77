"""The event log against a real Redis: seq gap-free, trimming, reset, paging, pub/sub."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio

from server.adapters.redis_keys import event_channel, event_seq
from server.domain.events import (
    EVENT_TYPES,
    Event,
    EventLog,
    event_log_from_settings,
    format_ts,
)
from tests.conftest import RedisServer, SettingsFactory


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_log(
    client: redis.asyncio.Redis, *, maxlen: int = 1000, max_age_s: float = 3600.0
) -> EventLog:
    return EventLog(client, maxlen=maxlen, max_age_s=max_age_s)


async def test_seq_starts_at_one_and_event_has_the_api_schema(
    redis_client: redis.asyncio.Redis,
) -> None:
    clock = FakeClock()
    log = EventLog(redis_client, maxlen=100, max_age_s=60, clock=clock)
    event = await log.append(
        "prj_a", "export.progress", export_id="exp_1", batch_id="bat_1", data={"progress": 0.5}
    )
    assert event.seq == 1
    assert event.id.startswith("evt_")
    assert event.ts == "2026-11-24T12:00:00.123Z"
    assert list(event.to_dict()) == [
        "id", "seq", "type", "project_id", "export_id", "batch_id", "ts", "data",
    ]  # fmt: skip
    stored = (await log.read_since("prj_a", 0)).events
    assert stored == [event]


async def test_concurrent_appends_over_many_connections_never_duplicate_or_skip(
    redis_url: str, redis_client: redis.asyncio.Redis
) -> None:
    clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(8)]
    logs = [make_log(client) for client in clients]
    try:
        events = await asyncio.gather(
            *(
                logs[i % len(logs)].append("prj_c", "export.progress", data={"i": i})
                for i in range(200)
            )
        )
    finally:
        for client in clients:
            await client.aclose()
    assert sorted(event.seq for event in events) == list(range(1, 201))
    page = await make_log(redis_client).read_since("prj_c", 0, limit=500)
    assert [event.seq for event in page.events] == list(range(1, 201))
    assert {event.id for event in page.events} == {event.id for event in events}
    assert page.last_seq == 200


async def test_projects_have_independent_sequences(redis_client: redis.asyncio.Redis) -> None:
    log = make_log(redis_client)
    await log.append("prj_a", "export.queued")
    await log.append("prj_a", "export.started")
    assert (await log.append("prj_b", "export.queued")).seq == 1
    assert await log.last_seq("prj_a") == 2
    assert await log.last_seq("prj_nobody") == 0


async def test_trims_by_length_and_resets_cursors_older_than_the_log(
    redis_client: redis.asyncio.Redis,
) -> None:
    log = make_log(redis_client, maxlen=5)
    for _ in range(12):
        await log.append("prj_a", "export.progress")
    # Retained: seq 8..12. A cursor of 7 has seen everything before 8: no reset.
    page = await log.read_since("prj_a", 7)
    assert [event.seq for event in page.events] == [8, 9, 10, 11, 12]
    assert page.reset is False
    reset = await log.read_since("prj_a", 6)
    assert reset.reset is True
    assert reset.events == []
    assert reset.last_seq == 12


async def test_trims_by_age_with_an_injected_clock(redis_client: redis.asyncio.Redis) -> None:
    clock = FakeClock()
    log = EventLog(redis_client, maxlen=1000, max_age_s=60, clock=clock)
    for _ in range(3):
        await log.append("prj_a", "export.progress")  # seq 1..3 at t=0
    clock.advance(30)
    await log.append("prj_a", "export.progress")  # seq 4 at t=30
    clock.advance(45)
    await log.append("prj_a", "export.progress")  # seq 5 at t=75: 1..3 are now too old
    page = await log.read_since("prj_a", 3)
    assert [event.seq for event in page.events] == [4, 5]
    assert (await log.read_since("prj_a", 2)).reset is True
    clock.advance(31)
    await log.append("prj_a", "export.progress")  # seq 6 at t=106: 4 is too old
    assert [e.seq for e in (await log.read_since("prj_a", 4)).events] == [5, 6]
    assert (await log.read_since("prj_a", 3)).reset is True


async def test_pages_by_limit_oldest_first(redis_client: redis.asyncio.Redis) -> None:
    log = make_log(redis_client)
    for _ in range(7):
        await log.append("prj_a", "export.progress")
    first = await log.read_since("prj_a", 0, limit=3)
    assert [event.seq for event in first.events] == [1, 2, 3]
    assert first.last_seq == 7
    second = await log.read_since("prj_a", first.events[-1].seq, limit=3)
    assert [event.seq for event in second.events] == [4, 5, 6]
    third = await log.read_since("prj_a", 6, limit=3)
    assert [event.seq for event in third.events] == [7]
    caught_up = await log.read_since("prj_a", 7)
    assert (caught_up.events, caught_up.reset) == ([], False)


async def test_empty_project_reads_empty_without_reset(redis_client: redis.asyncio.Redis) -> None:
    page = await make_log(redis_client).read_since("prj_new", 0)
    assert (page.events, page.last_seq, page.reset) == ([], 0, False)


async def test_cursor_beyond_last_seq_after_redis_lost_its_data_resets(
    redis_server: RedisServer, redis_client: redis.asyncio.Redis
) -> None:
    log = make_log(redis_client)
    for _ in range(5):
        await log.append("prj_a", "export.progress")
    redis_server.restart()  # no persistence: the log and the counter are gone
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        log = make_log(client)
        assert (await log.append("prj_a", "export.queued")).seq == 1
        page = await log.read_since("prj_a", 5)
        assert page.reset is True
        assert page.last_seq == 1
    finally:
        await client.aclose()


async def test_lost_counter_continues_after_the_retained_log(
    redis_client: redis.asyncio.Redis,
) -> None:
    log = make_log(redis_client)
    for _ in range(4):
        await log.append("prj_a", "export.progress")
    await redis_client.delete(event_seq("prj_a"))
    assert (await log.append("prj_a", "export.progress")).seq == 5
    assert await log.last_seq("prj_a") == 5


async def test_pubsub_receives_exactly_what_was_appended(
    redis_url: str, redis_client: redis.asyncio.Redis
) -> None:
    subscriber = redis.asyncio.Redis.from_url(redis_url)
    pubsub = subscriber.pubsub()
    await pubsub.subscribe(event_channel("prj_a"))
    try:
        log = make_log(redis_client)
        appended = [
            await log.append("prj_a", "export.started", export_id="exp_1"),
            await log.append("prj_b", "export.started"),  # another project's channel
            await log.append("prj_a", "export.completed", export_id="exp_1", data={"w": 720}),
        ]
        received: list[Event] = []
        async with asyncio.timeout(5):
            while len(received) < 2:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    assert message["data"] == appended[len(received) * 2].to_json().encode()
                    received.append(Event.from_json(message["data"]))
        assert received == [appended[0], appended[2]]
    finally:
        await pubsub.aclose()
        await subscriber.aclose()


def test_json_round_trip_keeps_every_field_and_unicode() -> None:
    event = Event(
        id="evt_x",
        seq=42,
        type="export.failed",
        project_id="prj_a",
        export_id="exp_1",
        batch_id=None,
        ts=format_ts(datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)),
        data={"code": "render_failed", "message": 'über 字幕 "quoted"', "progress": 0.47},
    )
    raw = event.to_json()
    assert Event.from_json(raw) == event
    assert json.loads(raw)["ts"] == "2026-01-02T03:04:05.006Z"
    assert Event.from_json(raw.encode()) == event


async def test_rejects_unknown_types_and_nan(redis_client: redis.asyncio.Redis) -> None:
    log = make_log(redis_client)
    with pytest.raises(ValueError, match="unknown event type"):
        await log.append("prj_a", "export.exploded")
    with pytest.raises(ValueError):
        await log.append("prj_a", "export.progress", data={"eta_s": float("nan")})
    assert await log.last_seq("prj_a") == 0
    assert len(EVENT_TYPES) == 11


async def test_decoded_clients_work_too(redis_url: str, redis_client: redis.asyncio.Redis) -> None:
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        log = make_log(client)
        event = await log.append("prj_a", "export.queued", event_id="evt_fixed")
        assert (await log.read_since("prj_a", 0)).events == [event]
    finally:
        await client.aclose()


async def test_factory_uses_the_configured_bounds(
    settings: SettingsFactory, redis_client: redis.asyncio.Redis
) -> None:
    log = event_log_from_settings(redis_client, settings(event_log_maxlen=2))
    for _ in range(3):
        await log.append("prj_a", "export.progress")
    assert [e.seq for e in (await log.read_since("prj_a", 1)).events] == [2, 3]
    assert (await log.read_since("prj_a", 0)).reset is True
