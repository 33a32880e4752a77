"""The progress transition: one Lua round trip per report that never publishes backwards,
throttles in-chunk events, always tells a chunk boundary and stops once an export is
ending — with real Redis and a real database."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio

from server.adapters import redis_keys
from server.domain import export_lifecycle as lifecycle
from server.domain.events import EventLog, end_event_id
from server.domain.models import ChunkStatus, Export, ExportChunk, ExportStatus
from tests.conftest import SettingsFactory
from tests.workers.helpers import runtime_for, stalled_export
from workers.runtime import WorkerRuntime


@pytest.fixture
def rt(db: str, redis_client: redis.asyncio.Redis, settings: SettingsFactory) -> Iterator[Any]:
    runtime = runtime_for(settings, redis_client)
    yield runtime
    runtime.sync_redis.close()


async def running_export(frames_total: int = 100, chunks_total: int = 4) -> Export:
    export = await stalled_export()
    await Export.filter(id=export.id).update(
        frames_total=frames_total, chunks_total=chunks_total, duration_s=frames_total / 25
    )
    return await Export.get(id=export.id)


async def progress_events(rt: WorkerRuntime, export: Export) -> list[dict[str, Any]]:
    page = await rt.events.read_since(export.project_id, 0)
    return [e.data for e in page.events if e.type == "export.progress"]


class CommandCounter:
    """Counts the commands a redis.asyncio client sends (a pipeline counts once)."""

    def __init__(self, client: redis.asyncio.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
        self.commands: list[str] = []
        send = client.execute_command

        async def counted(*args: Any, **options: Any) -> Any:
            self.commands.append(str(args[0]))
            return await send(*args, **options)

        monkeypatch.setattr(client, "execute_command", counted)


async def test_an_in_chunk_report_is_one_round_trip_and_no_database_write(
    rt: WorkerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = await running_export()
    await lifecycle.record_progress(rt, export, 0, 5, boundary=False)  # loads the script
    await rt.redis.delete(redis_keys.progress_throttle(export.id))
    row_before = await Export.get(id=export.id)
    counter = CommandCounter(rt.redis, monkeypatch)
    published = await lifecycle.record_progress(rt, export, 0, 20, boundary=False)
    assert counter.commands == ["EVALSHA"]
    assert published is not None and published.progress == pytest.approx(0.2)
    row_after = await Export.get(id=export.id)
    assert (row_after.progress, row_after.heartbeat_at, row_after.chunks_done) == (
        row_before.progress,
        row_before.heartbeat_at,
        row_before.chunks_done,
    )
    assert (await progress_events(rt, export))[-1]["progress"] == 0.2


async def test_a_boundary_writes_the_published_numbers_to_the_row(rt: WorkerRuntime) -> None:
    export = await running_export()
    await ExportChunk.create(
        export_id=export.id, index=0, first_frame=0, end_frame=25, status=ChunkStatus.DONE
    )
    published = await lifecycle.record_progress(rt, export, 0, 25, boundary=True)
    assert published is not None
    row = await Export.get(id=export.id)
    assert (row.progress, row.chunks_done) == (pytest.approx(0.25), 1)
    assert row.heartbeat_at is not None and row.heartbeat_at > export.heartbeat_at
    data = (await progress_events(rt, export))[-1]
    assert data == {
        "chunks_done": 1,
        "chunks_total": 4,
        "progress": 0.25,
        "eta_s": published.eta_s,
        "speed": published.speed,
        "phase": "rendering",
    }
    assert published.speed > 0 and published.eta_s is not None and published.eta_s > 0


async def test_in_chunk_events_are_throttled_but_boundaries_always_told(
    rt: WorkerRuntime,
) -> None:
    export = await running_export()
    for frames in range(1, 11):  # ten reports well inside one 0.25 s interval
        await lifecycle.record_progress(rt, export, 0, frames, boundary=False)
    assert [d["progress"] for d in await progress_events(rt, export)] == [0.01]
    await lifecycle.record_progress(rt, export, 0, 25, boundary=True)
    await lifecycle.record_progress(rt, export, 1, 25, boundary=True)
    assert [d["progress"] for d in await progress_events(rt, export)] == [0.01, 0.25, 0.5]
    await asyncio.sleep(rt.settings.progress_min_interval_s + 0.05)
    await lifecycle.record_progress(rt, export, 2, 5, boundary=False)
    assert (await progress_events(rt, export))[-1]["progress"] == 0.55


async def test_racing_reports_never_publish_backwards_and_leave_no_gap(
    rt: WorkerRuntime, settings: SettingsFactory, redis_client: redis.asyncio.Redis
) -> None:
    rt.settings = settings(progress_min_interval_s=0.001)
    export = await running_export(frames_total=400)
    chaos = random.Random(13)

    async def chunk(index: int) -> None:
        frames = 0
        for _ in range(40):
            # a crashed render starts its chunk again: its count drops back, sometimes
            frames = chaos.randint(0, 10) if chaos.random() < 0.1 else min(100, frames + 5)
            await lifecycle.record_progress(rt, export, index, frames, boundary=False)
            await asyncio.sleep(chaos.random() / 500)
        await lifecycle.record_progress(rt, export, index, 100, boundary=True)

    await asyncio.gather(*(chunk(i) for i in range(4)))
    page = await rt.events.read_since(export.project_id, 0)
    assert [e.seq for e in page.events] == list(range(1, len(page.events) + 1))
    told = [e.data for e in page.events]
    assert len(told) > 8
    assert [d["progress"] for d in told] == sorted(d["progress"] for d in told)
    assert [d["chunks_done"] for d in told] == sorted(d["chunks_done"] for d in told)
    assert told[-1]["progress"] == lifecycle.RENDERED_CAP
    assert (await Export.get(id=export.id)).progress == lifecycle.RENDERED_CAP


async def test_no_report_once_a_cancel_is_requested_or_the_end_announced(
    rt: WorkerRuntime,
) -> None:
    export = await running_export()
    await lifecycle.raise_flag(rt.redis, export.id)
    assert await lifecycle.record_progress(rt, export, 0, 10, boundary=False) is None
    await lifecycle.clear_flag(rt.redis, export.id)
    await rt.redis.set(redis_keys.event_once(end_event_id(export.id, export.attempt)), 1)
    assert await lifecycle.record_progress(rt, export, 0, 20, boundary=False) is None
    assert await progress_events(rt, export) == []
    # the frames still count, should a boundary of this attempt be told after all
    assert await rt.redis.hget(redis_keys.chunk_frames(export.id), "0") == b"20"


async def test_a_boundary_of_an_export_that_is_no_longer_running_is_not_told(
    rt: WorkerRuntime,
) -> None:
    export = await running_export()
    await Export.filter(id=export.id).update(status=ExportStatus.FAILED)
    assert await lifecycle.record_progress(rt, export, 0, 25, boundary=True) is None
    assert await progress_events(rt, export) == []


async def test_a_report_keeps_the_chunk_lease_alive(rt: WorkerRuntime) -> None:
    export = await running_export()
    lease = redis_keys.chunk_lease(export.id, export.attempt, 0)
    await rt.redis.set(lease, 1, ex=2)
    await lifecycle.record_progress(
        rt, export, 0, 3, boundary=False, keep_alive=lifecycle.KeepAlive(lease, 20)
    )
    assert 2 < await rt.redis.ttl(lease) <= 20


async def test_progress_continues_the_seq_after_redis_lost_the_log(
    rt: WorkerRuntime, redis_client: redis.asyncio.Redis
) -> None:
    async def base(project_id: str) -> int:
        return 41

    rt.events = EventLog(redis_client, maxlen=100, max_age_s=3600, seq_base=base)
    export = await running_export()
    published = await lifecycle.record_progress(rt, export, 0, 50, boundary=False)
    assert published is not None and published.seq == 42
    page = await rt.events.read_since(export.project_id, 41)
    assert [(e.seq, e.type, e.data["progress"]) for e in page.events] == [
        (42, "export.progress", 0.5)
    ]


async def test_a_new_attempt_counts_from_zero(rt: WorkerRuntime) -> None:
    export = await running_export()
    await lifecycle.record_progress(rt, export, 0, 80, boundary=False)
    await lifecycle.forget_progress(rt, export.id)
    await rt.redis.delete(redis_keys.progress_throttle(export.id))
    published = await lifecycle.record_progress(rt, export, 0, 10, boundary=False)
    assert published is not None and published.progress == pytest.approx(0.1)
