"""The export state machine: every transition from every status, against a real database
and Redis. An allowed transition moves the row and emits exactly one event about the
export; a refused one changes nothing and emits nothing; racers end in one terminal state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from dramatiq.middleware import CurrentMessage

from server.adapters import redis_keys
from server.adapters.queue import Enqueuer, make_broker
from server.clock import utcnow
from server.domain import export_lifecycle as lifecycle
from server.domain.models import (
    ACTIVE_STATUSES,
    Batch,
    Export,
    ExportChunk,
    ExportStatus,
    Moment,
    Project,
    new_id,
)
from server.domain.storage_keys import chunk_key, source_key
from server.errors import ApiError, Conflict, ServiceUnavailable
from tests.conftest import SettingsFactory
from tests.workers.helpers import runtime_for
from workers.render.spec import OutputInfo
from workers.runtime import WorkerRuntime

Transition = Callable[[WorkerRuntime, Export], Awaitable[Any]]


def _output() -> OutputInfo:
    return OutputInfo(
        path="/nowhere/out.mp4", size_bytes=10, duration_s=2.0, width=720, height=1280,
        has_audio=False,
    )  # fmt: skip


async def _record_half(rt: WorkerRuntime, export: Export) -> bool:
    return await lifecycle.record_progress(rt, export, 0, 30, boundary=True) is not None


#: transition → (the statuses it may leave, the status it lands in, the event it emits).
TABLE: dict[str, tuple[Transition, frozenset[ExportStatus], ExportStatus, str]] = {
    "start": (
        lambda rt, e: lifecycle.start(rt, e, chunks_total=2, frames_total=60, duration_s=2.0),
        frozenset({ExportStatus.QUEUED}),
        ExportStatus.RUNNING,
        "export.started",
    ),
    "record_progress": (
        _record_half,
        frozenset({ExportStatus.RUNNING}),
        ExportStatus.RUNNING,
        "export.progress",
    ),
    "complete": (
        lambda rt, e: lifecycle.complete(rt, e, _output(), f"exports/{e.id}/video.mp4"),
        frozenset({ExportStatus.RUNNING, ExportStatus.CANCELLING}),
        ExportStatus.COMPLETED,
        "export.completed",
    ),
    "fail": (
        lambda rt, e: lifecycle.fail(rt, e, "render_failed", "it broke"),
        ACTIVE_STATUSES,
        ExportStatus.FAILED,
        "export.failed",
    ),
    "cancel": (
        lifecycle.cancel,
        ACTIVE_STATUSES,
        ExportStatus.CANCELLED,
        "export.cancelled",
    ),
    "request_cancel": (
        lifecycle.request_cancel,
        frozenset({ExportStatus.QUEUED, ExportStatus.RUNNING}),
        ExportStatus.CANCELLING,
        "export.cancelling",
    ),
    "retry": (
        lifecycle.retry,
        frozenset({ExportStatus.FAILED, ExportStatus.CANCELLED}),
        ExportStatus.QUEUED,
        "export.queued",
    ),
}


@pytest.fixture
def rt(db: str, redis_client: redis.asyncio.Redis, settings: SettingsFactory) -> Iterator[Any]:
    runtime = runtime_for(settings, redis_client)
    yield runtime
    runtime.sync_redis.close()


async def _export(status: ExportStatus, *, started: bool = True, siblings: int = 1) -> Export:
    """An export in ``status`` (started unless told otherwise), with ``siblings`` more
    queued exports in its batch, so its end never ends the batch unless the test wants."""
    project = await Project.create(
        id=new_id("prj"), user_id="u", name="p", source_key="projects/x/source.mp4",
        duration_s=10, width=320, height=240, fps=30, has_audio=False, size_bytes=1,
    )  # fmt: skip
    moment = await Moment.create(id=new_id("mom"), user_id="u", project=project, start_s=0, end_s=2)
    batch = await Batch.create(id=new_id("bat"), user_id="u", project=project)
    ended = status.is_terminal
    fields: dict[str, Any] = {
        "user_id": "u", "project": project, "moment": moment, "batch": batch,
        "aspect_ratio": "9:16", "resolution": "720p", "chunks_total": 2, "frames_total": 60,
        "duration_s": 2.0, "progress": 0.1,
    }  # fmt: skip
    for _ in range(siblings):
        await Export.create(id=new_id("exp"), **fields)
    when = utcnow() - timedelta(seconds=5)
    return await Export.create(
        id=new_id("exp"), status=status, started_at=when if started else None,
        heartbeat_at=when, finished_at=when if ended else None,
        error_code="x" if status is ExportStatus.FAILED else None, **fields,
    )  # fmt: skip


async def _ended_as_the_system_leaves_it(rt: WorkerRuntime, export: Export) -> Export:
    """An export that ended has announced its end (its terminal event is in the log), as
    every ending transition does; retry relies on it being there or adds it."""
    if ExportStatus(export.status).is_terminal:
        await lifecycle.announce_end(rt, export.id, export.attempt)
    return export


async def _events_of(rt: WorkerRuntime, export: Export) -> list[str]:
    page = await rt.events.read_since(export.project_id, 0)
    return [e.type for e in page.events if e.export_id == export.id]


def _state(export: Export) -> tuple[Any, ...]:
    return (
        export.status, export.attempt, export.progress, export.finished_at, export.error_code,
        export.video_key, export.started_at,
    )  # fmt: skip


@pytest.mark.parametrize("status", list(ExportStatus))
@pytest.mark.parametrize("name", list(TABLE))
async def test_each_transition_from_each_status(
    rt: WorkerRuntime, name: str, status: ExportStatus
) -> None:
    transition, allowed, target, event = TABLE[name]
    export = await _ended_as_the_system_leaves_it(rt, await _export(status))
    before = _state(await Export.get(id=export.id))
    seen = await _events_of(rt, export)
    try:
        await transition(rt, export)
    except Conflict:
        assert status not in allowed, f"{name} refused {status} with a 409"
    after = await Export.get(id=export.id)
    emitted = (await _events_of(rt, export))[len(seen) :]
    if status in allowed:
        assert after.status == target
        assert emitted == [event]
    else:
        assert _state(after) == before
        assert emitted == []


async def test_a_queued_export_no_worker_started_is_cancelled_at_once(rt: WorkerRuntime) -> None:
    export = await _export(ExportStatus.QUEUED, started=False)
    answer = await lifecycle.request_cancel(rt, export)
    assert answer.status == ExportStatus.CANCELLED and answer.finished_at is not None
    assert await _events_of(rt, export) == ["export.cancelled"]
    assert await rt.redis.exists(redis_keys.cancel_flag(export.id))
    assert lifecycle.cancel_check(rt.sync_redis, export.id)()


async def test_cancel_then_retry_clears_the_flag_and_starts_a_new_attempt(
    rt: WorkerRuntime,
) -> None:
    export = await _export(ExportStatus.RUNNING)
    await lifecycle.request_cancel(rt, export)
    assert lifecycle.is_cancel_requested(rt.sync_redis, export.id)
    assert await lifecycle.cancel(rt, await Export.get(id=export.id))
    retried = await lifecycle.retry(rt, await Export.get(id=export.id))
    assert (retried.status, retried.attempt, retried.progress) == (ExportStatus.QUEUED, 2, 0.0)
    assert not lifecycle.is_cancel_requested(rt.sync_redis, export.id)
    assert await _events_of(rt, export) == [
        "export.cancelling",
        "export.cancelled",
        "export.queued",
    ]


async def test_a_message_of_an_older_attempt_moves_nothing(rt: WorkerRuntime) -> None:
    export = await _export(ExportStatus.RUNNING)
    stale = await Export.get(id=export.id)
    await Export.filter(id=export.id).update(attempt=2)
    assert not await lifecycle.complete(rt, stale, _output(), "exports/x/video.mp4")
    assert not await lifecycle.fail(rt, stale, "render_failed", "old news")
    assert (await Export.get(id=export.id)).status == ExportStatus.RUNNING
    assert await _events_of(rt, export) == []


async def test_progress_never_goes_back(rt: WorkerRuntime) -> None:
    export = await _export(ExportStatus.RUNNING)
    assert await lifecycle.record_progress(rt, export, 0, 45, boundary=False)
    assert not await lifecycle.record_progress(rt, export, 0, 30, boundary=False)
    assert await lifecycle.record_progress(rt, export, 0, 30, boundary=True)  # a boundary: told
    assert (await Export.get(id=export.id)).progress == pytest.approx(0.75)
    page = await rt.events.read_since(export.project_id, 0)
    assert [e.data["progress"] for e in page.events] == [0.75, 0.75]


async def test_progress_stays_below_one_until_the_file_is_stored(rt: WorkerRuntime) -> None:
    export = await _export(ExportStatus.RUNNING)
    assert await lifecycle.record_progress(rt, export, 0, 60, boundary=True)
    assert (await Export.get(id=export.id)).progress == lifecycle.RENDERED_CAP


@pytest.mark.parametrize("round_", range(6))
async def test_cancel_racing_completion_ends_once(rt: WorkerRuntime, round_: int) -> None:
    export = await _export(ExportStatus.RUNNING, siblings=0)
    racers = [
        lifecycle.cancel(rt, export),
        lifecycle.complete(rt, export, _output(), f"exports/{export.id}/video.mp4"),
        lifecycle.request_cancel(rt, export),
    ]
    if round_ % 2:
        racers.reverse()
    outcomes = await asyncio.gather(*racers, return_exceptions=True)
    ended = [o for o in outcomes if o is True]
    assert len(ended) == 1, outcomes
    assert all(o is False or isinstance(o, (Export, Conflict)) for o in outcomes if o is not True)
    final = await Export.get(id=export.id)
    assert final.status in (ExportStatus.COMPLETED, ExportStatus.CANCELLED)
    terminal = [t for t in await _events_of(rt, export) if t != "export.cancelling"]
    assert terminal == [f"export.{final.status}"]
    page = await rt.events.read_since(export.project_id, 0)
    assert [e.type for e in page.events].count("batch.completed") == 1


async def test_an_unreachable_queue_fails_the_exports_visibly(
    rt: WorkerRuntime, settings: SettingsFactory
) -> None:
    export = await _export(ExportStatus.QUEUED, started=False)
    closed = Enqueuer(make_broker("redis://127.0.0.1:1"))  # loopback, nothing listens
    unreachable = runtime_for(settings, rt.redis)
    unreachable.enqueuer = closed
    with pytest.raises(ServiceUnavailable) as raised:
        await lifecycle.queue(unreachable, [export])
    assert raised.value.code == "queue_unavailable"
    failed = await Export.get(id=export.id)
    assert (failed.status, failed.error_code) == (ExportStatus.FAILED, "queue_unavailable")
    unreachable.sync_redis.close()


async def test_retry_counts_against_the_active_limit(
    rt: WorkerRuntime, settings: SettingsFactory
) -> None:
    export = await _export(ExportStatus.FAILED, siblings=2)  # two queued siblings
    export = await _ended_as_the_system_leaves_it(rt, export)
    seen = await _events_of(rt, export)
    tight = runtime_for(settings, rt.redis)
    tight.settings = tight.settings.with_(max_active_exports_per_user=2)
    with pytest.raises(ApiError) as raised:
        await lifecycle.retry(tight, export)
    assert raised.value.status == 429
    assert (await Export.get(id=export.id)).status == ExportStatus.FAILED
    assert await _events_of(rt, export) == seen
    tight.sync_redis.close()


async def test_deleting_a_project_stops_its_exports_and_leaves_nothing(
    rt: WorkerRuntime, tmp_path: Path
) -> None:
    export = await _export(ExportStatus.RUNNING)
    project = await Project.get(id=export.project_id)
    piece = tmp_path / "piece.mp4"
    piece.write_bytes(b"x")
    await Project.filter(id=project.id).update(source_key=source_key(project.id, "a.mp4"))
    await rt.storage.put_file(source_key(project.id, "a.mp4"), piece)
    await rt.storage.put_file(chunk_key(export.id, 0), piece)
    await ExportChunk.create(
        export=export, index=0, first_frame=0, end_frame=30, storage_key=chunk_key(export.id, 0)
    )
    await rt.events.append(project.id, "export.queued", export_id=export.id)
    await lifecycle.delete_project(rt, await Project.get(id=project.id))
    assert not await Export.filter(project_id=project.id).exists()
    assert lifecycle.is_cancel_requested(rt.sync_redis, export.id)
    assert not await rt.storage.exists(chunk_key(export.id, 0))
    assert not await rt.storage.exists(source_key(project.id, "a.mp4"))
    assert await rt.events.last_seq(project.id) == 0


def test_a_step_retries_as_often_as_its_actor_allows(settings: SettingsFactory) -> None:
    """The limit is the actor's own RetryPolicy: no second copy in the step runner."""
    from workers.export_actors import declare_actors
    from workers.step_runner import retries_left

    broker = make_broker("redis://127.0.0.1:1")
    declare_actors(broker)
    rt = runtime_for(settings, redis.asyncio.Redis())
    rt.enqueuer = Enqueuer(broker)
    limit = broker.get_actor("render_chunk").options["max_retries"]
    assert limit > 0
    message = broker.get_actor("render_chunk").message("exp_x", 1, 0)
    current = CurrentMessage()
    try:
        assert not retries_left(rt), "outside a message nothing retries"
        for retries, left in ((0, True), (limit - 1, True), (limit, False)):
            message.options["retries"] = retries
            current.before_process_message(broker, message)
            assert retries_left(rt) is left, retries
        message.options.update(retries=limit, max_retries=limit + 1)
        assert retries_left(rt), "a message's own max_retries wins, as Dramatiq's does"
    finally:
        current.after_process_message(broker, message)
        rt.sync_redis.close()
