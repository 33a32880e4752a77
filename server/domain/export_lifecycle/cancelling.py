"""Cancelling an export, all of it: the request, the Redis flag, the render loop's check,
the cleanup of partial files and the ``cancelled`` transition.

The database status (``cancelling``) is the record; the flag is the fast path a render
thread checks many times a second without touching the database. A queued export no
worker has started yet is cancelled at once, since no worker would ever end it.
"""

from __future__ import annotations

import redis
import redis.asyncio

from server.adapters import redis_keys
from server.clock import utcnow
from server.domain.models import Export, ExportStatus
from server.errors import Conflict
from workers.render.spec import CancelCheck

from .effects import Effects, emit, update_if
from .ending import announce_end

#: How long a cancel request outlives its export's last message (seconds).
CANCEL_KEY_TTL_S = 24 * 3600

#: Where ``request_cancel`` may move an export to ``cancelling`` from.
CANCELLABLE = (ExportStatus.QUEUED, ExportStatus.RUNNING)
#: What ``cancelled`` ends: anything still active (a worker or the sweeper ends it).
ENDS_AS_CANCELLED = (ExportStatus.QUEUED, ExportStatus.RUNNING, ExportStatus.CANCELLING)


async def raise_flag(client: redis.asyncio.Redis, export_id: str) -> None:
    """Ask every worker touching ``export_id`` to stop at its next check."""
    await client.set(redis_keys.cancel_flag(export_id), "1", ex=CANCEL_KEY_TTL_S)


async def clear_flag(client: redis.asyncio.Redis, export_id: str) -> None:
    """Forget an old cancel request, so a retried export is not stopped by it."""
    await client.delete(redis_keys.cancel_flag(export_id))


def is_cancel_requested(client: redis.Redis, export_id: str) -> bool:
    """Blocking check, for render threads (they run off the event loop)."""
    return bool(client.exists(redis_keys.cancel_flag(export_id)))


def cancel_check(client: redis.Redis, export_id: str) -> CancelCheck:
    """The callback the render engine polls between frames (throttled by the engine)."""
    return lambda: is_cancel_requested(client, export_id)


async def request_cancel(fx: Effects, export: Export) -> Export:
    """Unstarted queued → cancelled at once; queued/running → cancelling; ended → 409.

    Returns the export as it now stands (a cancel already under way answers as is).
    """
    if ExportStatus(export.status).is_terminal:
        raise Conflict(f"export is already {export.status}", code="export_finished")
    await raise_flag(fx.redis, export.id)
    if await update_if(
        export.id,
        [ExportStatus.QUEUED],
        where={"started_at__isnull": True},
        status=ExportStatus.CANCELLED,
        eta_s=None,
        finished_at=utcnow(),
    ):
        await announce_end(fx, export.id, export.attempt)
    elif await update_if(export.id, CANCELLABLE, status=ExportStatus.CANCELLING):
        await emit(fx, export, "export.cancelling", {"progress": export.progress})
    await export.refresh_from_db()
    return export


async def cancel(fx: Effects, export: Export) -> bool:
    """Active → cancelled; the export's partial files in storage are removed (announce_end).

    The worker that stopped also removes its own scratch copy; True when this call ended it.
    """
    if await update_if(
        export.id,
        ENDS_AS_CANCELLED,
        of_attempt=export.attempt,
        status=ExportStatus.CANCELLED,
        eta_s=None,
        finished_at=utcnow(),
    ):
        await announce_end(fx, export.id, export.attempt)
        return True
    return False
