"""An export's end is announced exactly once, even when a crash makes a worker redo it."""

from __future__ import annotations

import redis.asyncio

from server.domain.export_lifecycle import announce_end, retry
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
    await announce_end(rt, export.id, export.attempt)  # the redelivered message redoes the end
    await announce_end(rt, export.id, export.attempt)  # and a duplicate message does no harm
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
    await announce_end(rt, export.id, export.attempt)
    await Export.filter(id=export.id).update(attempt=2, status=ExportStatus.COMPLETED)
    await announce_end(rt, export.id, 2)
    page = await rt.events.read_since(export.project_id, 0)
    assert [e.type for e in page.events] == [
        "export.failed",
        "batch.completed",
        "export.completed",
        "batch.completed",
    ]
    rt.sync_redis.close()


async def test_a_late_end_of_an_attempt_never_lands_after_its_retry(
    db: str, redis_client: redis.asyncio.Redis, settings: SettingsFactory
) -> None:
    """A worker records the cancel of attempt 1, then the user retries before that worker
    appends the event: the retry announces attempt 1's end first, so the log reads
    cancelled → queued, and the worker's late announce adds nothing (it used to append a
    "cancelled" for attempt 2, which ended the new attempt for every client and took the
    event id of its real end)."""
    export = await stalled_export()
    rt = runtime_for(settings, redis_client)
    await Export.filter(id=export.id).update(status=ExportStatus.CANCELLED)
    await export.refresh_from_db()
    retried = await retry(rt, export)
    assert retried.attempt == 2 and retried.status == ExportStatus.QUEUED
    await announce_end(rt, export.id, 1)  # the worker that ended attempt 1, late
    page = await rt.events.read_since(export.project_id, 0)
    assert [e.type for e in page.events] == ["export.cancelled", "batch.completed", "export.queued"]
    await Export.filter(id=export.id).update(status=ExportStatus.COMPLETED, progress=1.0)
    await announce_end(rt, export.id, 2)
    page = await rt.events.read_since(export.project_id, 0)
    assert [e.type for e in page.events][-2:] == ["export.completed", "batch.completed"]
    rt.sync_redis.close()
