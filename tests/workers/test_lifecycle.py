"""An export's end is announced exactly once, even when a crash makes a worker redo it."""

from __future__ import annotations

import redis.asyncio

from server.domain.export_lifecycle import announce_end
from server.domain.models import Export, ExportStatus
from tests.conftest import SettingsFactory
from tests.workers.helpers import runtime_for, stalled_export


async def test_an_end_recorded_but_not_announced_is_announced_once_on_redelivery(
    db: str, redis_client: redis.asyncio.Redis, settings: SettingsFactory
) -> None:
    export = await stalled_export()
    rt = runtime_for(settings, redis_client)
    # The worker died right after this update, before it appended the event.
    await Export.filter(id=export.id).update(
        status=ExportStatus.COMPLETED, progress=1.0, size_bytes=1234, duration_s=5.0,
        width=720, height=1280, video_key="exports/exp_w/video.mp4",
    )  # fmt: skip
    await announce_end(rt, export.id)  # the redelivered message redoes the end
    await announce_end(rt, export.id)  # and a duplicate message does no harm
    page = await rt.events.read_since(export.project_id, 0)
    assert [e.type for e in page.events] == ["export.completed", "batch.completed"]
    assert page.events[0].data["size_bytes"] == 1234
    assert page.events[0].data["video_url"] == f"/api/exports/{export.id}/video"
    rt.sync_redis.close()


async def test_a_retried_export_ends_its_batch_again(
    db: str, redis_client: redis.asyncio.Redis, settings: SettingsFactory
) -> None:
    export = await stalled_export()
    rt = runtime_for(settings, redis_client)
    await Export.filter(id=export.id).update(status=ExportStatus.FAILED, error_code="x")
    await announce_end(rt, export.id)
    await Export.filter(id=export.id).update(attempt=2, status=ExportStatus.COMPLETED)
    await announce_end(rt, export.id)
    page = await rt.events.read_since(export.project_id, 0)
    assert [e.type for e in page.events] == [
        "export.failed",
        "batch.completed",
        "export.completed",
        "batch.completed",
    ]
    rt.sync_redis.close()
