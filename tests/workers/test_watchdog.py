"""The stalled-export sweeper: resume what stopped moving, fail it after too many tries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import redis.asyncio
from redis import Redis as SyncRedis

from server.events import EventLog
from server.models import Batch, Export, ExportStatus, Moment, Project
from server.queue import Enqueuer, make_broker
from server.storage import storage_from_settings
from tests.conftest import SettingsFactory
from workers.runtime import WorkerRuntime
from workers.watchdog import SWEEP_LOCK, sweep_once


async def _stalled_export(status: ExportStatus = ExportStatus.RUNNING) -> Export:
    project = await Project.create(
        id="prj_w", user_id="u", name="p", source_key="projects/prj_w/source", duration_s=10,
        width=320, height=240, fps=30, has_audio=True, size_bytes=1,
    )  # fmt: skip
    moment = await Moment.create(id="mom_w", user_id="u", project=project, start_s=0, end_s=5)
    batch = await Batch.create(id="bat_w", user_id="u", project=project)
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    return await Export.create(
        id="exp_w", user_id="u", project=project, moment=moment, batch=batch,
        aspect_ratio="9:16", resolution="720p", status=status, started_at=long_ago,
        heartbeat_at=long_ago, progress=0.2,
    )  # fmt: skip


def _runtime(settings: SettingsFactory, client: redis.asyncio.Redis) -> WorkerRuntime:
    config = settings(stall_after_s=60.0, sweep_interval_s=1.0, max_stall_resumes=2)
    assert config.redis_url is not None
    return WorkerRuntime(
        settings=config,
        storage=storage_from_settings(config),
        events=EventLog(client, maxlen=100, max_age_s=3600),
        redis=client,
        sync_redis=SyncRedis.from_url(config.redis_url),
        enqueuer=Enqueuer(make_broker(config.redis_url)),
        loop_thread=cast(Any, None),  # sweep_once is awaited directly here
    )


async def _sweep_again(rt: WorkerRuntime, export_id: str) -> list[str]:
    """Age the heartbeat again and let the next sweep run at once."""
    await Export.filter(id=export_id).update(heartbeat_at=datetime.now(UTC) - timedelta(minutes=10))
    await rt.redis.delete(SWEEP_LOCK)
    return await sweep_once(rt)


async def _plan_messages(client: redis.asyncio.Redis) -> list[dict[str, Any]]:
    raw = await client.hvals("reelay:exports.msgs")
    return [m for m in (json.loads(r) for r in raw) if m["actor_name"] == "plan_export"]


async def test_a_stalled_export_is_planned_again_then_failed_as_stalled(
    db: str, redis_client: redis.asyncio.Redis, settings: SettingsFactory
) -> None:
    export = await _stalled_export()
    rt = _runtime(settings, redis_client)

    assert await sweep_once(rt) == [export.id]
    assert len(await _plan_messages(redis_client)) == 1
    refreshed = await Export.get(id=export.id)
    assert refreshed.heartbeat_at is not None and refreshed.status == ExportStatus.RUNNING
    assert refreshed.heartbeat_at > datetime.now(UTC) - timedelta(seconds=30)
    assert await sweep_once(rt) == [], "only one sweeper per interval, cluster-wide"

    assert await _sweep_again(rt, export.id) == [export.id]  # resume 2 of 2
    assert len(await _plan_messages(redis_client)) == 2
    assert await _sweep_again(rt, export.id) == [export.id]  # no progress: give up
    failed = await Export.get(id=export.id)
    assert failed.status == ExportStatus.FAILED and failed.error_code == "stalled"
    page = await rt.events.read_since(export.project_id, 0)
    assert [e.type for e in page.events] == ["export.failed", "batch.completed"]
    assert page.events[0].data["code"] == "stalled"
    rt.sync_redis.close()


async def test_progress_between_sweeps_restarts_the_count(
    db: str, redis_client: redis.asyncio.Redis, settings: SettingsFactory
) -> None:
    export = await _stalled_export()
    rt = _runtime(settings, redis_client)
    for progress in (0.3, 0.4, 0.5, 0.6):
        await Export.filter(id=export.id).update(progress=progress)
        assert await _sweep_again(rt, export.id) == [export.id]
    assert (await Export.get(id=export.id)).status == ExportStatus.RUNNING
    assert len(await _plan_messages(redis_client)) == 4
    rt.sync_redis.close()


async def test_a_stalled_cancel_ends_as_cancelled(
    db: str, redis_client: redis.asyncio.Redis, settings: SettingsFactory
) -> None:
    export = await _stalled_export(ExportStatus.CANCELLING)
    rt = _runtime(settings, redis_client)
    assert await sweep_once(rt) == [export.id]
    assert (await Export.get(id=export.id)).status == ExportStatus.CANCELLED
    rt.sync_redis.close()
