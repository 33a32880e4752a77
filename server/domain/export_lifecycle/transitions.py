"""The export's way from queued to an end: queue, start, complete, fail, retry.

Each function is one transition: a conditional update of the row (the statuses it may
leave are named beside it) and, when the update landed, exactly one event. Cancelling is
in ``cancelling``, progress in ``progress``; the terminal event and the tidying after an
end are in ``ending``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import redis

from server.clock import utcnow
from server.domain.limits import ACTIVE_EXPORTS_LIMIT, check_active_exports, user_limit_lock
from server.domain.models import (
    ACTIVE_STATUSES,
    RETRYABLE_STATUSES,
    Batch,
    Export,
    ExportStatus,
)
from server.errors import Conflict, ServiceUnavailable
from workers.render.spec import OutputInfo

from .cancelling import clear_flag
from .effects import Effects, emit, update_if
from .ending import announce_end

logger = logging.getLogger("reelay.exports")

#: The statuses each transition may leave (the rest of the table is in ``cancel``).
STARTABLE = (ExportStatus.QUEUED,)
COMPLETABLE = (ExportStatus.RUNNING, ExportStatus.CANCELLING)  # a late cancel loses


async def queue(fx: Effects, exports: Sequence[Export]) -> None:
    """New (or retried) queued exports: ``export.queued`` each, then one plan message each.

    A queue that cannot be reached fails them with ``queue_unavailable`` and raises 503;
    that failure emits nothing, as the event log lives on the same unreachable Redis.
    """
    try:
        for export in exports:
            await emit(
                fx,
                export,
                "export.queued",
                {"attempt": export.attempt, "moment_id": export.moment_id},
            )
        await asyncio.gather(*(fx.enqueuer.start_export(e.id, e.attempt) for e in exports))
    except (redis.RedisError, OSError) as exc:
        for export in exports:
            await update_if(
                export.id,
                [ExportStatus.QUEUED],
                of_attempt=export.attempt,
                status=ExportStatus.FAILED,
                error_code="queue_unavailable",
                error_message="the job queue could not be reached",
                finished_at=utcnow(),
            )
        raise ServiceUnavailable(
            "the job queue could not be reached; try again", code="queue_unavailable"
        ) from exc


async def start(
    fx: Effects, export: Export, *, chunks_total: int, frames_total: int, duration_s: float
) -> bool:
    """queued → running (once), with the plan's numbers; a redelivered plan only refreshes
    the numbers (no event). True when this call started it."""
    now = utcnow()
    plan: dict[str, Any] = {
        "chunks_total": chunks_total,
        "frames_total": frames_total,
        "duration_s": duration_s,
    }
    if await update_if(
        export.id,
        STARTABLE,
        of_attempt=export.attempt,
        status=ExportStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        **plan,
    ):
        await emit(fx, export, "export.started", {"chunks_total": chunks_total, "progress": 0.0})
        return True
    await update_if(export.id, ACTIVE_STATUSES, of_attempt=export.attempt, **plan)
    return False


async def complete(fx: Effects, export: Export, output: OutputInfo, key: str) -> bool:
    """running/cancelling → completed; the file is stored already, so a late cancel loses."""
    if await update_if(
        export.id,
        COMPLETABLE,
        of_attempt=export.attempt,
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
    ):
        await announce_end(fx, export.id, export.attempt)
        return True
    return False


async def fail(fx: Effects, export: Export, code: str, message: str) -> bool:
    """Active → failed with a code users can act on; finished chunks stay for a retry."""
    if await update_if(
        export.id,
        ACTIVE_STATUSES,
        of_attempt=export.attempt,
        status=ExportStatus.FAILED,
        error_code=code,
        error_message=message,
        eta_s=None,
        finished_at=utcnow(),
    ):
        logger.warning("export %s failed: %s: %s", export.id, code, message)
        await announce_end(fx, export.id, export.attempt)
        return True
    return False


def ensure_retryable(export: Export) -> None:
    """409 ``export_not_retryable`` unless the export failed or was cancelled."""
    if ExportStatus(export.status) not in RETRYABLE_STATUSES:
        raise Conflict(
            f"only failed or cancelled exports can be retried, not {export.status}",
            code="export_not_retryable",
        )


async def retry(fx: Effects, export: Export) -> Export:
    """failed/cancelled → queued as attempt + 1, counted against the user's active exports
    (429 when full), then queued like a new export; 409 if it changed meanwhile."""
    ensure_retryable(export)
    # The ending attempt's terminal event goes into the log before the next attempt's
    # export.queued, whatever a worker still finishing it does: clients apply events in
    # order, and a late "cancelled" after "queued" would end the new attempt for them.
    await announce_end(fx, export.id, export.attempt)
    await clear_flag(fx.redis, export.id)
    async with user_limit_lock(export.user_id, ACTIVE_EXPORTS_LIMIT) as connection:
        await check_active_exports(connection, export.user_id, 1, fx.settings)
        updated = await update_if(
            export.id,
            RETRYABLE_STATUSES,
            of_attempt=export.attempt,
            using_db=connection,
            status=ExportStatus.QUEUED,
            attempt=export.attempt + 1,
            progress=0.0,
            chunks_done=0,
            preview_chunks=0,
            eta_s=None,
            speed=None,
            error_code=None,
            error_message=None,
            started_at=None,
            finished_at=None,
        )
    if not updated:
        raise Conflict("export changed while retrying; reload it", code="export_not_retryable")
    await Batch.filter(id=export.batch_id).update(completed_notified=False)
    await export.refresh_from_db()
    await queue(fx, [export])
    return export


async def resume_stalled(fx: Effects, export: Export) -> bool:
    """The sweeper's nudge: an active export's heartbeat is renewed and its plan sent again
    (planning is idempotent). Not a change of status, so no event."""
    if not await update_if(
        export.id, ACTIVE_STATUSES, of_attempt=export.attempt, heartbeat_at=utcnow()
    ):
        return False
    await fx.enqueuer.send("plan_export", export.id, export.attempt)
    return True
