"""The live preview of a running export: its playable prefix grows, and is told once.

Chunks finish out of order on many workers. Each finished chunk has its preview segment
stored before the chunk is marked done, so the playable prefix is the unbroken run of
done chunks from the first. ``announce_preview`` records it on the row (the web process
builds the playlist from there, never going backwards) and appends ``export.preview``
through ``preview.lua``, which decides and appends in one step: the events' ``chunks_ready``
only rises, at most once per chunk, and never after a cancel or the export's end.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

from redis.commands.core import AsyncScript

from server.adapters import redis_keys
from server.domain.events import EventLog, end_event_id
from server.domain.models import ACTIVE_STATUSES, ChunkStatus, Export, ExportChunk
from server.domain.storage_keys import poster_key, preview_prefix
from workers.render.spec import RenderPlan

from .effects import Effects, update_if

#: How long the announced count outlives the attempt's last announcement.
ANNOUNCED_TTL_S = 7 * 24 * 3600

_SCRIPT_BODY = Path(__file__).with_suffix(".lua").read_text(encoding="utf-8")
_scripts: dict[int, tuple[EventLog, AsyncScript]] = {}


def _script(events: EventLog) -> AsyncScript:
    known = _scripts.get(id(events))
    if known is None or known[0] is not events:
        known = _scripts[id(events)] = (events, events.appending_script(_SCRIPT_BODY))
    return known[1]


def playable_s(plan: RenderPlan, chunks_ready: int) -> float:
    """Seconds of output the first ``chunks_ready`` chunks hold."""
    if chunks_ready <= 0:
        return 0.0
    end_frame = plan.chunks[min(chunks_ready, len(plan.chunks)) - 1].end_frame
    return float(end_frame / Fraction(plan.fps_num, plan.fps_den))


def unbroken_run(indexes: set[int]) -> int:
    """How many of 0, 1, 2, … are in ``indexes`` before the first one missing."""
    count = 0
    while count in indexes:
        count += 1
    return count


async def announce_preview(fx: Effects, export: Export, plan: RenderPlan) -> int | None:
    """After a chunk is done: grow the playable prefix and tell it; returns the event's
    seq, or None when there was nothing new to tell."""
    ready: list[int] = await ExportChunk.filter(
        export_id=export.id, index__gte=0, status=ChunkStatus.DONE, segment_key__isnull=False
    ).values_list("index", flat=True)  # type: ignore[assignment]
    chunks_ready = unbroken_run(set(ready))
    if chunks_ready == 0:
        return None
    await update_if(
        export.id,
        ACTIVE_STATUSES,
        of_attempt=export.attempt,
        where={"preview_chunks__lt": chunks_ready},
        preview_chunks=chunks_ready,
    )
    data = json.dumps(
        {"chunks_ready": chunks_ready, "playable_s": round(playable_s(plan, chunks_ready), 3)},
        separators=(",", ":"),
    )
    reply = await fx.events.run_appending(
        _script(fx.events),
        export.project_id,
        "export.preview",
        export_id=export.id,
        batch_id=export.batch_id,
        keys=[
            redis_keys.preview_announced(export.id, export.attempt),
            redis_keys.cancel_flag(export.id),
            redis_keys.event_once(end_event_id(export.id, export.attempt)),
        ],
        args=[chunks_ready, data, ANNOUNCED_TTL_S],
    )
    return int(reply) if isinstance(reply, int) and reply > 0 else None


async def remove_preview(fx: Effects, export_id: str, *, with_poster: bool) -> None:
    """Delete the preview's segments (and the poster) and forget them on the rows."""
    await fx.storage.delete_prefix(preview_prefix(export_id))
    await ExportChunk.filter(export_id=export_id).update(segment_key=None)
    changes: dict[str, object] = {"preview_chunks": 0}
    if with_poster:
        await fx.storage.delete(poster_key(export_id))
        changes["poster_key"] = None
    await Export.filter(id=export_id).update(**changes)
