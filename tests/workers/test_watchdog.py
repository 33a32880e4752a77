"""The stalled-export sweeper: resume what stopped moving, fail it after too many tries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio

from server.domain.models import Export, ExportStatus
from tests.conftest import SettingsFactory
from tests.workers.helpers import runtime_for, stalled_export
from workers.runtime import WorkerRuntime
from workers.watchdog import SWEEP_LOCK, sweep_once


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
    export = await stalled_export()
    rt = runtime_for(settings, redis_client)

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
    export = await stalled_export()
    rt = runtime_for(settings, redis_client)
    for progress in (0.3, 0.4, 0.5, 0.6):
        await Export.filter(id=export.id).update(progress=progress)
        assert await _sweep_again(rt, export.id) == [export.id]
    assert (await Export.get(id=export.id)).status == ExportStatus.RUNNING
    assert len(await _plan_messages(redis_client)) == 4
    rt.sync_redis.close()


async def test_a_stalled_cancel_ends_as_cancelled(
    db: str, redis_client: redis.asyncio.Redis, settings: SettingsFactory
) -> None:
    export = await stalled_export(ExportStatus.CANCELLING)
    rt = runtime_for(settings, redis_client)
    assert await sweep_once(rt) == [export.id]
    assert (await Export.get(id=export.id)).status == ExportStatus.CANCELLED
    rt.sync_redis.close()
