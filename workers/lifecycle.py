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

from server.batches import complete_batch_if_done
from server.models import Export, ExportStatus
from server.notifications import notify
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
        await _emit(
            rt,
            export,
            "export.completed",
            {
                "video_url": f"/api/exports/{export.id}/video",
                "size_bytes": output.size_bytes,
                "duration_s": output.duration_s,
                "width": output.width,
                "height": output.height,
                "progress": 1.0,
            },
        )
        await rt.storage.delete_prefix(chunk_prefix(export.id))
        await complete_batch_if_done(rt.events, rt.enqueuer, export.batch_id)
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
        await _emit(rt, export, "export.failed", {"code": code, "message": message})
        await complete_batch_if_done(rt.events, rt.enqueuer, export.batch_id)
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
        await rt.storage.delete_prefix(chunk_prefix(export.id))
        await _emit(rt, export, "export.cancelled", {"progress": export.progress})
        await complete_batch_if_done(rt.events, rt.enqueuer, export.batch_id)
        return True
    return False
