"""Export state transitions, each one a conditional update plus exactly one event.

Every transition is ``UPDATE … WHERE status IN (allowed)``: when two workers race (a
redelivered message, two chunk finishers), only the one whose update lands emits the
event, so subscribers never see a terminal event twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from server.domain.batch_completion import complete_batch_if_done
from server.domain.events import end_event_id
from server.domain.models import Export, ExportStatus
from server.domain.notifications import notify
from workers.render.spec import OutputInfo
from workers.runtime import WorkerRuntime

logger = logging.getLogger("reelay.worker")

ACTIVE = (ExportStatus.QUEUED, ExportStatus.RUNNING, ExportStatus.CANCELLING)


def utcnow() -> datetime:
    return datetime.now(UTC)


def chunk_prefix(export_id: str) -> str:
    return f"exports/{export_id}/chunks/"


def chunk_key(export_id: str, index: int) -> str:
    return f"{chunk_prefix(export_id)}{index:04d}.mp4"


def audio_key(export_id: str) -> str:
    return f"{chunk_prefix(export_id)}audio.m4a"


def video_key(export_id: str) -> str:
    return f"exports/{export_id}/video.mp4"


async def _transition(
    export_id: str, attempt: int, allowed: Iterable[ExportStatus], **changes: Any
) -> bool:
    updated = await Export.filter(id=export_id, attempt=attempt, status__in=list(allowed)).update(
        **changes
    )
    return updated > 0


async def _emit(rt: WorkerRuntime, export: Export, type_: str, data: dict[str, Any]) -> None:
    event = await rt.events.append(
        export.project_id, type_, export_id=export.id, batch_id=export.batch_id, data=data
    )
    await notify(rt.enqueuer, event)


async def mark_started(
    rt: WorkerRuntime, export: Export, *, chunks_total: int, frames_total: int, duration_s: float
) -> None:
    """queued → running (once); a redelivered plan just refreshes the plan's numbers."""
    now = utcnow()
    plan = {"chunks_total": chunks_total, "frames_total": frames_total, "duration_s": duration_s}
    started = await _transition(
        export.id,
        export.attempt,
        [ExportStatus.QUEUED],
        status=ExportStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        **plan,
    )
    if started:
        await _emit(rt, export, "export.started", {"chunks_total": chunks_total, "progress": 0.0})
    else:
        await Export.filter(id=export.id, attempt=export.attempt).update(**plan)


async def mark_completed(rt: WorkerRuntime, export: Export, output: OutputInfo, key: str) -> bool:
    """running/cancelling → completed; the file is stored already, so a late cancel loses."""
    done = await _transition(
        export.id,
        export.attempt,
        [ExportStatus.RUNNING, ExportStatus.CANCELLING],
        status=ExportStatus.COMPLETED,
        progress=1.0,
        chunks_done=export.chunks_total,
        eta_s=0.0,
        video_key=key,
        size_bytes=output.size_bytes,
        duration_s=output.duration_s,
        width=output.width,
        height=output.height,
        error_code=None,
        error_message=None,
        finished_at=utcnow(),
    )
    if done:
        await announce_end(rt, export.id)
    return done


async def mark_failed(rt: WorkerRuntime, export: Export, code: str, message: str) -> bool:
    """Active → failed with a code users can act on; finished chunks stay for a retry."""
    if await _transition(
        export.id,
        export.attempt,
        ACTIVE,
        status=ExportStatus.FAILED,
        error_code=code,
        error_message=message,
        eta_s=None,
        finished_at=utcnow(),
    ):
        logger.warning("export %s failed: %s: %s", export.id, code, message)
        await announce_end(rt, export.id)
        return True
    return False


async def mark_cancelled(rt: WorkerRuntime, export: Export) -> bool:
    """Active → cancelled; every partial file of the export is removed."""
    if await _transition(
        export.id,
        export.attempt,
        ACTIVE,
        status=ExportStatus.CANCELLED,
        eta_s=None,
        finished_at=utcnow(),
    ):
        await announce_end(rt, export.id)
        return True
    return False


def _end_event(export: Export) -> tuple[str, dict[str, Any]]:
    """The terminal event an ended export owes its subscribers, built from its row."""
    status = ExportStatus(export.status)
    if status is ExportStatus.COMPLETED:
        return "export.completed", {
            "video_url": f"/api/exports/{export.id}/video",
            "size_bytes": export.size_bytes,
            "duration_s": export.duration_s,
            "width": export.width,
            "height": export.height,
            "progress": 1.0,
        }
    if status is ExportStatus.FAILED:
        return "export.failed", {"code": export.error_code, "message": export.error_message}
    return "export.cancelled", {"progress": export.progress}


async def announce_end(rt: WorkerRuntime, export_id: str) -> None:
    """Emit an ended export's terminal event once, tidy its pieces, and end its batch.

    Safe to call again for the same end (a worker killed between the database update and
    the event redoes it on redelivery): the event id is stable per attempt and appended
    once, so subscribers never see a terminal event twice — nor miss it.
    """
    export = await Export.get(id=export_id)
    type_, data = _end_event(export)
    event = await rt.events.append_once(
        export.project_id,
        type_,
        event_id=end_event_id(export.id, export.attempt),
        export_id=export.id,
        batch_id=export.batch_id,
        data=data,
    )
    if event is not None:
        await notify(rt.enqueuer, event)
    if export.status != ExportStatus.FAILED:  # a failed export keeps its chunks for a retry
        await rt.storage.delete_prefix(chunk_prefix(export.id))
    await complete_batch_if_done(rt.events, rt.enqueuer, export.batch_id)
