"""The export actors: plan → render chunks (+ audio) in parallel → finalize.

Messages carry ``(export_id, attempt)`` and a chunk index only. Each step is idempotent:
a redelivered message finds the chunks already done in the database and storage and
skips them, so a crash costs at most the chunk that was in flight. The plan is made once
per attempt (``export_plans``): only ``plan_export`` ever probes the source.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import dramatiq

from server.adapters import redis_keys
from server.domain import export_lifecycle as lifecycle
from server.domain.models import ChunkStatus, Export, ExportChunk, ExportStatus
from server.domain.storage_keys import audio_key, chunk_key, poster_key, segment_key, video_key
from server.ops.metrics import record_chunk_render
from workers import render
from workers.actors import RetryPolicy, declare_actor
from workers.export_focus import analysis_frames, plan_for_fan_out, settle_focus
from workers.export_plans import plan_of, source_path
from workers.low_priority import run_at_low_priority
from workers.render.spec import ChunkPlan, RenderPlan
from workers.runtime import WorkerRuntime, current_runtime
from workers.step_runner import export_step, export_work_dir, remove_work_dir

logger = logging.getLogger("reelay.worker")

#: ExportChunk.index of the moment's audio track (video chunks count from 0).
AUDIO_INDEX = -1
#: Minimum wall time between two in-chunk progress reports from one render thread.
LOCAL_REPORT_INTERVAL_S = 0.2
#: A chunk being rendered is leased; the lease is renewed with every progress report, so
#: it lapses this long after its holder died and a redelivered message can take over.
CHUNK_LEASE_S = 20
#: A message for a chunk another worker holds comes back after this delay.
LEASE_RECHECK_MS = 5_000


async def _record_plan(
    rt: WorkerRuntime, export: Export, plan: RenderPlan, extra_frames: int = 0
) -> list[int]:
    """Create the chunk rows once; return the indexes that still need rendering.
    ``extra_frames``: work counted before the chunks (auto reframe's analysis)."""
    if export.attempt > 1 and export.started_at is None:
        await lifecycle.forget_progress(rt, export.id)
    # The audio goes first: one quick encode, so the preview has sound from its start.
    wanted = [(AUDIO_INDEX, 0, 0)] if plan.has_audio else []
    wanted += [(c.index, c.first_frame, c.end_frame) for c in plan.chunks]
    todo: list[int] = []
    for index, first, end in wanted:
        row, _ = await ExportChunk.get_or_create(
            export_id=export.id, index=index, defaults={"first_frame": first, "end_frame": end}
        )
        stored = await _stored(rt, row.storage_key)
        if index >= 0 and rt.settings.live_preview:  # a done chunk has its preview segment
            stored = stored and await _stored(rt, row.segment_key)
        if row.status == ChunkStatus.DONE and stored:
            if index >= 0:
                await lifecycle.restore_chunk_frames(rt, export.id, index, end - first)
            continue
        if row.status == ChunkStatus.DONE:
            await ExportChunk.filter(id=row.id).update(status=ChunkStatus.PENDING)
        todo.append(index)
    await lifecycle.start(
        rt,
        export,
        chunks_total=len(plan.chunks),
        frames_total=plan.total_frames + extra_frames,
        duration_s=plan.total_frames / plan.fps,
    )
    if rt.settings.live_preview:  # chunks kept from an earlier attempt are playable now
        await lifecycle.announce_preview(rt, export, plan)
    return todo


async def _stored(rt: WorkerRuntime, key: str | None) -> bool:
    return key is not None and await rt.storage.exists(key)


@export_step
def plan_export(rt: WorkerRuntime, export: Export) -> None:
    """Plan the chunks (probing the source, once per attempt), analyse faces for auto
    reframe, and fan the chunks out.

    With the live preview on, on an attempt's first planning, only the first chunk (and the
    audio) go out now, so it renders with the machine to itself and can be watched sooner;
    the rest follow the moment it is rendered (``_release_rest``). A re-plan (the sweeper's
    resume of a stalled export, a redelivery) sends every chunk still to do at once.
    """
    first_run = export.started_at is None  # a resumed or redelivered plan sends it all
    planned = plan_for_fan_out(rt, export)
    todo = rt.run(_record_plan(rt, export, planned.plan, analysis_frames(planned)))
    settle_focus(rt, export, planned)
    head_start = rt.settings.live_preview and first_run and 0 in todo
    if head_start:  # whichever run of the first chunk finishes sends the rest
        rt.sync_redis.delete(redis_keys.fan_out_claim(export.id, export.attempt))
    for index in todo:
        if index == AUDIO_INDEX:
            rt.enqueuer.send_now("render_audio", export.id, export.attempt)
        elif index == 0 or not head_start:
            rt.enqueuer.send_now("render_chunk", export.id, export.attempt, index)
    if not todo:
        rt.enqueuer.send_now("finalize_export", export.id, export.attempt)


def _release_rest(rt: WorkerRuntime, export: Export) -> None:
    """Once the first chunk is rendered: send every chunk still pending (once per attempt;
    should this step die before sending, the sweeper's re-plan sends them)."""
    claim = redis_keys.fan_out_claim(export.id, export.attempt)
    if not rt.sync_redis.set(claim, 1, nx=True, ex=24 * 3600):
        return
    pending = rt.run(
        ExportChunk.filter(export_id=export.id, status=ChunkStatus.PENDING, index__gt=0)
        .order_by("index")
        .values_list("index", flat=True)
    )
    for index in pending:
        rt.enqueuer.send_now("render_chunk", export.id, export.attempt, index)


async def _finish_chunk(
    rt: WorkerRuntime,
    export: Export,
    index: int,
    local: Path,
    key: str,
    render_s: float,
    segment: Path | None = None,
) -> bool:
    """Store a rendered piece (and its preview segment) and mark it done; True when it was
    the last one missing."""
    await rt.storage.put_file(key, local)
    done: dict[str, object] = {"status": ChunkStatus.DONE, "storage_key": key}
    if segment is not None:
        done["segment_key"] = segment_key(export.id, index)
        await rt.storage.put_file(segment_key(export.id, index), segment)
    await ExportChunk.filter(export_id=export.id, index=index).update(**done, render_s=render_s)
    pending = await ExportChunk.filter(export_id=export.id, status=ChunkStatus.PENDING).count()
    if pending:
        return False
    claim = redis_keys.finalize_claim(export.id, export.attempt)
    return bool(await rt.redis.set(claim, 1, nx=True, ex=24 * 3600))


def _finalize_if_complete(rt: WorkerRuntime, export: Export) -> None:
    """A redelivered piece whose work was done: make sure the finalizer was queued."""
    pending = rt.run(ExportChunk.filter(export_id=export.id, status=ChunkStatus.PENDING).count())
    if not pending:
        rt.enqueuer.send_now("finalize_export", export.id, export.attempt)


def _cancel_check(rt: WorkerRuntime, export_id: str) -> render.CancelCheck:
    return lifecycle.cancel_check(rt.sync_redis, export_id)


@export_step
def render_chunk(rt: WorkerRuntime, export: Export, index: int) -> None:
    """Render one chunk into storage; the last piece to finish queues the finalizer."""
    row = rt.run(ExportChunk.get_or_none(export_id=export.id, index=index))
    if row is not None and row.status == ChunkStatus.DONE:
        if index == 0 and rt.settings.live_preview:
            _release_rest(rt, export)
        _finalize_if_complete(rt, export)
        return
    lease = redis_keys.chunk_lease(export.id, export.attempt, index)
    if not rt.sync_redis.set(lease, 1, nx=True, ex=CHUNK_LEASE_S):
        rt.enqueuer.send_now(
            "render_chunk", export.id, export.attempt, index, delay_ms=LEASE_RECHECK_MS
        )
        return
    try:
        _render_leased_chunk(rt, export, index, lease)
    finally:
        rt.sync_redis.delete(lease)


def _render_leased_chunk(rt: WorkerRuntime, export: Export, index: int, lease: str) -> None:
    planned = plan_of(rt, export)
    spec, plan = planned.spec, planned.plan
    chunk = plan.chunks[index]
    local = export_work_dir(rt, export.id) / f"chunk-{index:04d}.mp4"
    alive = lifecycle.KeepAlive(lease, CHUNK_LEASE_S)
    last_report = 0.0

    def on_frames(frames: int) -> None:
        nonlocal last_report
        now = time.monotonic()
        if now - last_report >= LOCAL_REPORT_INTERVAL_S:
            last_report = now
            report = lifecycle.record_progress(
                rt, export, index, frames, boundary=False, keep_alive=alive
            )
            rt.run(report)

    started = time.monotonic()
    render.render_chunk(
        rt.run(source_path(rt, export)),
        spec,
        plan,
        chunk,
        str(local),
        on_frames=on_frames,
        should_cancel=_cancel_check(rt, export.id),
    )
    render_s = time.monotonic() - started
    logger.info("export %s: chunk %d rendered in %.2f s", export.id, index, render_s)
    record_chunk_render(rt.sync_redis, render_s)
    if index == 0 and rt.settings.live_preview:
        _release_rest(rt, export)  # the others render while this one's preview is made
    segment = _preview_media(rt, export, plan, chunk, local) if rt.settings.live_preview else None
    key = chunk_key(export.id, index)
    last = rt.run(_finish_chunk(rt, export, index, local, key, render_s, segment))
    local.unlink(missing_ok=True)
    if segment is not None:
        segment.unlink(missing_ok=True)
        rt.run(lifecycle.announce_preview(rt, export, plan))
    rt.run(lifecycle.record_progress(rt, export, index, chunk.frame_count, boundary=True))
    if last:
        rt.enqueuer.send_now("finalize_export", export.id, export.attempt)


def _preview_media(
    rt: WorkerRuntime, export: Export, plan: RenderPlan, chunk: ChunkPlan, local: Path
) -> Path:
    """The chunk's preview segment (a remux, with the moment's sound once it is stored,
    silence before), and from the first chunk the poster, stored at once."""
    work = local.parent
    segment = work / f"segment-{chunk.index:04d}.ts"
    audio = rt.run(_stored_audio(rt, export, work)) if plan.has_audio else None
    render.make_segment(str(local), plan, chunk, str(audio) if audio else None, str(segment))
    if chunk.index == 0:
        poster = work / "poster.jpg"
        render.make_poster(str(local), str(poster))
        rt.run(rt.storage.put_file(poster_key(export.id), poster))
        poster.unlink(missing_ok=True)
        rt.run(
            Export.filter(id=export.id, attempt=export.attempt).update(
                poster_key=poster_key(export.id)
            )
        )
    return segment


async def _stored_audio(rt: WorkerRuntime, export: Export, work: Path) -> Path | None:
    """The moment's audio on this machine once it is stored (fetched once per machine)."""
    row = await ExportChunk.get_or_none(export_id=export.id, index=AUDIO_INDEX)
    if row is None or row.status != ChunkStatus.DONE or row.storage_key is None:
        return None
    path = rt.storage.local_path(row.storage_key)
    if path is not None:
        return path if path.is_file() else None
    path = work / "preview-audio.m4a"
    if not path.is_file():
        await rt.storage.get_file(row.storage_key, path)
    return path


@export_step
def render_audio(rt: WorkerRuntime, export: Export) -> None:
    """Encode the whole moment's audio once, so chunk joins have no gap or click; at a low
    CPU priority, so it never slows the chunk a viewer is waiting for."""
    planned = plan_of(rt, export)
    src = rt.run(source_path(rt, export))
    local = export_work_dir(rt, export.id) / "audio.m4a"
    started = time.monotonic()
    produced = run_at_low_priority(
        lambda: render.render_audio(
            src, planned.spec, planned.plan, str(local), should_cancel=_cancel_check(rt, export.id)
        )
    )
    if produced is None:
        rt.run(
            ExportChunk.filter(export_id=export.id, index=AUDIO_INDEX).update(
                status=ChunkStatus.DONE
            )
        )
        return
    last = rt.run(
        _finish_chunk(
            rt, export, AUDIO_INDEX, local, audio_key(export.id), time.monotonic() - started
        )
    )
    local.unlink(missing_ok=True)
    if last:
        rt.enqueuer.send_now("finalize_export", export.id, export.attempt)


async def _fetch_pieces(
    rt: WorkerRuntime, export: Export, work: Path
) -> tuple[list[Path], Path | None]:
    """Local paths of the stored chunks in order, and of the audio; downloads remote ones."""
    chunks: list[Path] = []
    audio: Path | None = None
    for row in await ExportChunk.filter(export_id=export.id).order_by("index"):
        if row.storage_key is None:
            continue
        path = rt.storage.local_path(row.storage_key)
        if path is None:
            path = work / Path(row.storage_key).name
            await rt.storage.get_file(row.storage_key, path)
        if row.index == AUDIO_INDEX:
            audio = path
        else:
            chunks.append(path)
    return chunks, audio


@export_step
def finalize_export(rt: WorkerRuntime, export: Export) -> None:
    """Join the chunks and the audio into the final MP4, store it, record the outcome."""
    plan = plan_of(rt, export).plan
    work = export_work_dir(rt, export.id)
    chunks, audio = rt.run(_fetch_pieces(rt, export, work))
    out = work / "final.mp4"
    output = render.join_chunks(
        plan, [str(p) for p in chunks], str(audio) if audio else None, str(out)
    )
    key = video_key(export.id)
    rt.run(rt.storage.put_file(key, out))
    completed = rt.run(lifecycle.complete(rt, export, output, key))
    remove_work_dir(rt, export.id)
    if completed and rt.settings.live_preview:
        # Signed preview URLs handed out before the end stay good until they expire.
        delay_ms = rt.settings.media_url_ttl_s * 1000
        rt.enqueuer.send_now("drop_preview", export.id, export.attempt, delay_ms=delay_ms)


def drop_preview(export_id: str, attempt: int) -> None:
    """A completed export's preview segments, once every URL to them has expired: the
    finished MP4 replaces them (the poster stays)."""
    rt = current_runtime()
    export = rt.run(Export.get_or_none(id=export_id))
    if export is None or export.attempt != attempt or export.status != ExportStatus.COMPLETED:
        return
    rt.run(lifecycle.remove_preview(rt, export_id, with_poster=False))


def declare_actors(broker: dramatiq.Broker) -> None:
    """Register the export actors on ``broker`` (no global broker at import time)."""
    declare_actor(broker, "plan_export", plan_export, RetryPolicy(120_000, 5))
    declare_actor(broker, "render_chunk", render_chunk, RetryPolicy(600_000, 5))
    declare_actor(broker, "render_audio", render_audio, RetryPolicy(900_000, 5))
    declare_actor(broker, "finalize_export", finalize_export, RetryPolicy(900_000, 5))
    declare_actor(broker, "drop_preview", drop_preview, RetryPolicy(60_000, 5))
