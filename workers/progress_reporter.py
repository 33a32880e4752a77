"""Progress of one export, summed over the chunks that many workers render at once.

Each chunk worker reports its own frame count into a Redis hash; the sum over the hash is
the export's progress. A per-export Redis lock serializes "compare with the last value,
store, append the event", so the events a client sees never go backwards even when two
machines report at the same instant.
"""

from __future__ import annotations

from server.domain import export_lifecycle as lifecycle
from workers.runtime import WorkerRuntime

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
    values = await rt.redis.hvals(frames_key(export_id))
    frames_done = sum(int(v) for v in values)
    await lifecycle.record_progress(rt, export_id, frames_done, force=force)


async def forget_progress(rt: WorkerRuntime, export_id: str) -> None:
    """Drop the per-chunk counters (a new attempt starts counting again)."""
    await rt.redis.delete(frames_key(export_id))
