"""The preview transition: the playable prefix is the unbroken run of done chunks from the
first, announced at most once per chunk and only ever rising — whatever order chunks
finish in and however many workers finish them at once; never after a cancel or the end.
With real Redis and a real database."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest
import redis.asyncio

from server.domain import export_lifecycle as lifecycle
from server.domain.models import ChunkStatus, Export, ExportChunk, ExportStatus
from server.domain.storage_keys import segment_key
from tests.conftest import SettingsFactory
from tests.workers.helpers import runtime_for, stalled_export
from workers.render.spec import ChunkPlan, RenderPlan
from workers.runtime import WorkerRuntime

CHUNKS = 8
FRAMES_PER_CHUNK = 150  # 6 s at 25 fps


@pytest.fixture
def rt(db: str, redis_client: redis.asyncio.Redis, settings: SettingsFactory) -> Iterator[Any]:
    runtime = runtime_for(settings, redis_client)
    yield runtime
    runtime.sync_redis.close()


def plan_of(chunks: int = CHUNKS) -> RenderPlan:
    return RenderPlan(
        width=720,
        height=1280,
        fps_num=25,
        fps_den=1,
        total_frames=chunks * FRAMES_PER_CHUNK,
        chunks=tuple(
            ChunkPlan(i, i * FRAMES_PER_CHUNK, (i + 1) * FRAMES_PER_CHUNK, i * 6.0, (i + 1) * 6.0)
            for i in range(chunks)
        ),
        has_audio=True,
    )


async def running_export(plan: RenderPlan) -> Export:
    export = await stalled_export()
    for chunk in plan.chunks:
        await ExportChunk.create(
            export_id=export.id,
            index=chunk.index,
            first_frame=chunk.first_frame,
            end_frame=chunk.end_frame,
        )
    return await Export.get(id=export.id)


async def finish(export: Export, index: int) -> None:
    """What a worker does once a chunk and its segment are stored."""
    await ExportChunk.filter(export_id=export.id, index=index).update(
        status=ChunkStatus.DONE, segment_key=segment_key(export.id, index)
    )


async def preview_events(rt: WorkerRuntime, export: Export) -> list[dict[str, Any]]:
    page = await rt.events.read_since(export.project_id, 0)
    return [e.data for e in page.events if e.type == "export.preview"]


def test_playable_seconds_and_the_unbroken_run() -> None:
    plan = plan_of()
    assert lifecycle.playable_s(plan, 0) == 0.0
    assert lifecycle.playable_s(plan, 1) == 6.0
    assert lifecycle.playable_s(plan, CHUNKS) == float(CHUNKS * 6)
    assert lifecycle.playable_s(plan, CHUNKS + 3) == float(CHUNKS * 6)
    from server.domain.export_lifecycle.preview import unbroken_run

    assert unbroken_run(set()) == 0
    assert unbroken_run({1, 2, 3}) == 0
    assert unbroken_run({0, 1, 3}) == 2


async def test_chunk_one_before_chunk_zero_is_not_playable(rt: WorkerRuntime) -> None:
    plan = plan_of()
    export = await running_export(plan)
    await finish(export, 1)
    assert await lifecycle.announce_preview(rt, export, plan) is None
    assert (await Export.get(id=export.id)).preview_chunks == 0
    assert await preview_events(rt, export) == []
    await finish(export, 0)
    assert await lifecycle.announce_preview(rt, export, plan) is not None
    assert (await Export.get(id=export.id)).preview_chunks == 2
    assert await preview_events(rt, export) == [{"chunks_ready": 2, "playable_s": 12.0}]
    assert await lifecycle.announce_preview(rt, export, plan) is None  # no news: no event
    assert len(await preview_events(rt, export)) == 1


async def test_a_done_chunk_without_its_segment_is_not_playable(rt: WorkerRuntime) -> None:
    plan = plan_of()
    export = await running_export(plan)
    await ExportChunk.filter(export_id=export.id, index=0).update(status=ChunkStatus.DONE)
    assert await lifecycle.announce_preview(rt, export, plan) is None


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_many_workers_in_any_order_announce_a_rising_count(
    rt: WorkerRuntime, seed: int
) -> None:
    """Chunks finish in a shuffled order, each announced concurrently with the others: the
    events' chunks_ready strictly rise, end at every chunk, and the row never goes back."""
    plan = plan_of()
    rng = random.Random(seed)
    export = await running_export(plan)
    order = list(range(CHUNKS))
    rng.shuffle(order)

    async def worker(index: int) -> None:
        await asyncio.sleep(rng.random() * 0.02)
        await finish(export, index)
        await lifecycle.announce_preview(rt, export, plan)

    await asyncio.gather(*(worker(i) for i in order))
    counts = [e["chunks_ready"] for e in await preview_events(rt, export)]
    assert counts == sorted(set(counts)), counts
    assert counts[-1] == CHUNKS
    for event in await preview_events(rt, export):
        ready = event["chunks_ready"]
        assert event["playable_s"] == float(Fraction(ready * FRAMES_PER_CHUNK, 25))
    assert (await Export.get(id=export.id)).preview_chunks == CHUNKS


async def test_no_preview_event_after_a_cancel_or_the_end(rt: WorkerRuntime) -> None:
    plan = plan_of()
    export = await running_export(plan)
    await finish(export, 0)
    await lifecycle.announce_preview(rt, export, plan)
    await lifecycle.raise_flag(rt.redis, export.id)
    await finish(export, 1)
    assert await lifecycle.announce_preview(rt, export, plan) is None
    await lifecycle.clear_flag(rt.redis, export.id)
    assert await lifecycle.fail(rt, export, "internal_error", "boom")
    await finish(export, 2)
    assert await lifecycle.announce_preview(rt, export, plan) is None
    assert [e["chunks_ready"] for e in await preview_events(rt, export)] == [1]


async def test_a_cancel_removes_the_preview_and_the_poster(
    rt: WorkerRuntime, tmp_path: Any
) -> None:
    plan = plan_of(2)
    export = await running_export(plan)
    file = tmp_path / "x"
    file.write_bytes(b"x")
    for index in range(2):
        await rt.storage.put_file(segment_key(export.id, index), file)
        await finish(export, index)
    await rt.storage.put_file(f"exports/{export.id}/poster.jpg", file)
    await Export.filter(id=export.id).update(poster_key=f"exports/{export.id}/poster.jpg")
    await lifecycle.announce_preview(rt, export, plan)
    assert await lifecycle.cancel(rt, await Export.get(id=export.id))
    row = await Export.get(id=export.id)
    assert row.status == ExportStatus.CANCELLED
    assert (row.preview_chunks, row.poster_key) == (0, None)
    for index in range(2):
        assert not await rt.storage.exists(segment_key(export.id, index))
    assert not await rt.storage.exists(f"exports/{export.id}/poster.jpg")
    segments = await ExportChunk.filter(export_id=export.id).values_list("segment_key", flat=True)
    assert set(segments) == {None}
