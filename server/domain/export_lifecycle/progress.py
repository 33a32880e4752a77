"""The progress transition (running → running, ``export.progress``), summed over the chunks
that many workers render at once.

Each report is one round trip to Redis: ``progress.lua`` records the chunk's frames, keeps
the chunk's lease alive, decides whether the report is news (throttled in-chunk, never
backwards, always at a chunk boundary, never once a cancel is requested or the end was
announced) and appends the event — atomically, so two machines reporting at the same
instant cannot publish out of order. The database hears of progress at chunk boundaries
only; in between, the event log is the live record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from redis.commands.core import AsyncScript

from server.adapters import redis_keys
from server.clock import now_s, utcnow
from server.domain.events import EventLog, end_event_id
from server.domain.models import ChunkStatus, Export, ExportChunk, ExportStatus

from .effects import Effects, update_if

#: What an export is doing when it reports: looking for faces first (auto reframe), then
#: rendering its chunks; ``export.progress`` data says which.
Phase = Literal["analysing", "rendering"]
#: The frames-hash index of auto reframe's analysis (chunks count from 0, the audio is -1).
ANALYSIS_INDEX = -2
#: Progress stays below 1.0 until the finalizer has stored the file.
RENDERED_CAP = 0.99
#: What the boundary write may leave (and the in-chunk path assumes, see the module doc).
PROGRESSING = (ExportStatus.RUNNING,)
#: The frames and published-state keys outlive an export's last report by this long.
STATE_TTL_S = 7 * 24 * 3600

_SCRIPT_BODY = Path(__file__).with_suffix(".lua").read_text(encoding="utf-8")
_scripts: dict[int, tuple[EventLog, AsyncScript]] = {}


@dataclass(frozen=True)
class Published:
    """What one ``export.progress`` event told: the fraction, chunks done, ETA and speed."""

    seq: int
    progress: float
    chunks_done: int
    eta_s: float | None
    speed: float


@dataclass(frozen=True)
class KeepAlive:
    """A key a report renews in the same round trip (a chunk's lease) and its lifetime."""

    key: str
    ttl_s: int


def _script(events: EventLog) -> AsyncScript:
    """The progress script, registered once per event log (a process has one)."""
    known = _scripts.get(id(events))
    if known is None or known[0] is not events:
        known = _scripts[id(events)] = (events, events.appending_script(_SCRIPT_BODY))
    return known[1]


async def record_progress(
    fx: Effects,
    export: Export,
    chunk_index: int,
    frames: int,
    *,
    boundary: bool,
    keep_alive: KeepAlive | None = None,
    phase: Phase = "rendering",
) -> Published | None:
    """Record ``frames`` rendered in one chunk of a running export and publish when it is
    news; returns what was published, or None. The ``analysing`` phase reports the face
    analysis of auto reframe as frames of its own piece (``ANALYSIS_INDEX``).

    At a ``boundary`` (the chunk is stored and marked done) the export must be running in
    the database, the event always goes out and the row takes the published numbers,
    never backwards. In-chunk, nothing touches the database: the cancel flag and the
    announced end, both in Redis, stop the reports of an export that is ending.
    """
    chunks_done = 0
    if boundary:
        running = Export.filter(id=export.id, attempt=export.attempt, status__in=PROGRESSING)
        if not await running.exists():
            return None
        chunks_done = await ExportChunk.filter(
            export_id=export.id, status=ChunkStatus.DONE, index__gte=0
        ).count()
    published = await _publish(
        fx, export, chunk_index, frames, boundary, chunks_done, keep_alive, phase
    )
    if published is not None and boundary:
        await update_if(
            export.id,
            PROGRESSING,
            of_attempt=export.attempt,
            where={"progress__lte": published.progress, "chunks_done__lte": published.chunks_done},
            progress=published.progress,
            chunks_done=published.chunks_done,
            eta_s=published.eta_s,
            speed=published.speed,
            heartbeat_at=utcnow(),
        )
    return published


async def _publish(
    fx: Effects,
    export: Export,
    chunk_index: int,
    frames: int,
    boundary: bool,
    chunks_done: int,
    keep_alive: KeepAlive | None,
    phase: Phase,
) -> Published | None:
    started = export.started_at.timestamp() if export.started_at is not None else now_s()
    keys = [
        redis_keys.chunk_frames(export.id),
        redis_keys.progress_state(export.id),
        redis_keys.progress_throttle(export.id),
        redis_keys.cancel_flag(export.id),
        redis_keys.event_once(end_event_id(export.id, export.attempt)),
    ]
    args: list[str | int | float] = [
        chunk_index,
        frames,
        1 if boundary else 0,
        export.frames_total,
        export.chunks_total,
        chunks_done,
        float(export.duration_s or 0.0),
        now_s() - started,
        max(1, int(fx.settings.progress_min_interval_s * 1000)),
        RENDERED_CAP,
        STATE_TTL_S,
        phase,
    ]
    if keep_alive is not None:
        keys.append(keep_alive.key)
        args.append(keep_alive.ttl_s)
    reply = await fx.events.run_appending(
        _script(fx.events),
        export.project_id,
        "export.progress",
        export_id=export.id,
        batch_id=export.batch_id,
        keys=keys,
        args=args,
    )
    if not isinstance(reply, list):
        return None
    seq, progress, done, eta_s, speed = (v.decode() if isinstance(v, bytes) else v for v in reply)
    return Published(
        seq=int(seq),
        progress=float(progress),
        chunks_done=int(done),
        eta_s=float(eta_s) if eta_s else None,
        speed=float(speed),
    )


async def restore_chunk_frames(fx: Effects, export_id: str, index: int, frames: int) -> None:
    """Count a chunk found done on a re-plan as fully rendered (no event)."""
    key = redis_keys.chunk_frames(export_id)
    await fx.redis.hset(key, str(index), frames)
    await fx.redis.expire(key, STATE_TTL_S)


async def forget_progress(fx: Effects, export_id: str) -> None:
    """Drop the per-chunk counts and what was published: a new attempt counts from 0."""
    await fx.redis.delete(
        redis_keys.chunk_frames(export_id),
        redis_keys.progress_state(export_id),
        redis_keys.progress_throttle(export_id),
    )
