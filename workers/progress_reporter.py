"""Progress of one export, summed over the chunks that many workers render at once.

Each chunk worker reports its own frame count into a Redis hash; the sum over the hash is
the export's progress. A per-export Redis lock serializes "compare with the last value,
store, append the event", so the events a client sees never go backwards even when two
machines report at the same instant.
"""

from __future__ import annotations

import time

from server.domain.models import ChunkStatus, Export, ExportChunk, ExportStatus
from workers.lifecycle import utcnow
from workers.runtime import WorkerRuntime

#: Progress stays below 1.0 until the finalizer has stored the file.
RENDERED_CAP = 0.99
FRAMES_TTL_S = 7 * 24 * 3600


def frames_key(export_id: str) -> str:
    return f"reelay:frames:{export_id}"


async def report_progress(
    rt: WorkerRuntime, export_id: str, chunk_index: int, frames: int, *, boundary: bool
) -> None:
    """Record ``frames`` done in one chunk; publish when it is news (throttled in-chunk)."""
    client = rt.redis
    key = frames_key(export_id)
    await client.hset(key, str(chunk_index), frames)
    await client.expire(key, FRAMES_TTL_S)
    if not boundary:
        interval_ms = max(1, int(rt.settings.progress_min_interval_s * 1000))
        if not await client.set(f"reelay:throttle:{export_id}", 1, px=interval_ms, nx=True):
            return
    async with client.lock(f"reelay:lock:progress:{export_id}", timeout=10, blocking_timeout=10):
        await _publish(rt, export_id, force=boundary)


async def _publish(rt: WorkerRuntime, export_id: str, *, force: bool) -> None:
    export = await Export.get_or_none(id=export_id)
    if export is None or export.frames_total <= 0 or export.started_at is None:
        return
    values = await rt.redis.hvals(frames_key(export_id))
    frames_done = min(sum(int(v) for v in values), export.frames_total)
    chunks_done = await ExportChunk.filter(
        export_id=export_id, status=ChunkStatus.DONE, index__gte=0
    ).count()
    progress = max(export.progress, min(frames_done / export.frames_total, RENDERED_CAP))
    if not force and progress <= export.progress:
        return
    elapsed = max(time.time() - export.started_at.timestamp(), 1e-3)
    media_done = progress * (export.duration_s or 0.0)
    speed = media_done / elapsed
    remaining = (export.duration_s or 0.0) - media_done
    eta_s = round(remaining / speed, 1) if speed > 0 else None
    updated = await Export.filter(
        id=export_id, attempt=export.attempt, progress__lte=progress, status=ExportStatus.RUNNING
    ).update(
        progress=progress,
        chunks_done=max(chunks_done, export.chunks_done),
        eta_s=eta_s,
        speed=round(speed, 3),
        heartbeat_at=utcnow(),
    )
    if not updated:
        return
    await rt.events.append(
        export.project_id,
        "export.progress",
        export_id=export_id,
        batch_id=export.batch_id,
        data={
            "chunks_done": max(chunks_done, export.chunks_done),
            "chunks_total": export.chunks_total,
            "progress": round(progress, 4),
            "eta_s": eta_s,
            "speed": round(speed, 3),
        },
    )


async def forget_progress(rt: WorkerRuntime, export_id: str) -> None:
    """Drop the per-chunk counters (a new attempt starts counting again)."""
    await rt.redis.delete(frames_key(export_id))
