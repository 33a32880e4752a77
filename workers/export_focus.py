"""Auto reframe in the plan step: faces analysed once per attempt, before any chunk exists.

The analysis is a piece of the export's work like a chunk: its progress is reported in the
``analysing`` phase (``ANALYSIS_INDEX`` in the frames count, so the ETA includes it), it
stops within a cancel poll (0.1 s) of a cancel, and its track is stored with the plan, so a
redelivered message, a retry's reused chunks and every worker render the same camera.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from server.clock import utcnow
from server.domain import export_lifecycle as lifecycle
from server.domain.models import Export, ExportStatus
from workers import render
from workers.export_plans import ExportPlan, make_plan, source_path, store_plan, stored_plan
from workers.render.analysis import analyse_focus
from workers.render.camera import CameraSettings
from workers.render.focus import FocusTrack, track_from_json
from workers.runtime import WorkerRuntime

logger = logging.getLogger("reelay.worker")

#: The analysis counts as this share of an export's rendering work in its progress and ETA
#: (bench/reframe.py: 0.3 of a 9:16 720p render of 1080p on an idle 2-core machine).
ANALYSIS_SHARE = 0.3
#: Minimum wall time between two analysis progress reports from one worker.
REPORT_INTERVAL_S = 0.2
#: The export's heartbeat is renewed this often while faces are analysed, so the stalled-
#: export sweeper never mistakes a long analysis for a dead worker.
HEARTBEAT_S = 10.0


def analysis_frames(planned: ExportPlan) -> int:
    """The frames the analysis counts for in ``frames_total``: 0 unless auto reframe."""
    if planned.spec.focus_mode != "auto":
        return 0
    return max(1, round(planned.plan.total_frames * ANALYSIS_SHARE))


def plan_for_fan_out(rt: WorkerRuntime, export: Export) -> ExportPlan:
    """The attempt's stored plan, else a new one: stored now unless it still needs its
    faces analysed (``settle_focus`` stores that one)."""
    known = stored_plan(export)
    if known is not None:
        return known
    made = make_plan(rt, export)
    if not made.spec.needs_analysis:
        store_plan(rt, export, made, fallback=False)
    return made


def settle_focus(rt: WorkerRuntime, export: Export, planned: ExportPlan) -> ExportPlan:
    """``planned`` with its focus track made: an auto plan is analysed (the export must be
    running: its progress is reported) and stored; any other is returned as is.

    Raises RenderCancelled when the export is cancelled meanwhile.
    """
    units = analysis_frames(planned)
    if not planned.spec.needs_analysis:
        if units:
            rt.run(lifecycle.restore_chunk_frames(rt, export.id, lifecycle.ANALYSIS_INDEX, units))
        return planned
    if export.focus_track:
        return _reuse_track(rt, export, planned, units)
    running = rt.run(Export.get(id=export.id))
    last_report = last_beat = time.monotonic()

    def on_progress(done: int, total: int) -> None:
        nonlocal last_report, last_beat
        now = time.monotonic()
        if now - last_beat >= HEARTBEAT_S:
            last_beat = now
            alive = Export.filter(id=export.id, attempt=export.attempt, status=ExportStatus.RUNNING)
            rt.run(alive.update(heartbeat_at=utcnow()))
        if now - last_report < REPORT_INTERVAL_S and done < total:
            return
        last_report = now
        report = lifecycle.record_progress(
            rt,
            running,
            lifecycle.ANALYSIS_INDEX,
            units * done // total,
            boundary=False,
            phase="analysing",
        )
        rt.run(report)

    src = rt.run(source_path(rt, export))
    assert planned.plan.source is not None  # a plan made here always carries its probe
    analysis = analyse_focus(
        src,
        planned.spec,
        planned.plan.source,
        camera=CameraSettings(max_pan=rt.settings.focus_max_pan),
        on_progress=on_progress,
        should_cancel=lifecycle.cancel_check(rt.sync_redis, export.id),
    )
    logger.info(
        "export %s: faces in %d of %d sampled pictures (%.1f ms each), %d track points%s",
        export.id,
        analysis.samples_with_faces,
        analysis.samples,
        analysis.detect_ms_per_sample,
        len(analysis.track),
        "; no face: falling back to focus_x" if analysis.fallback else "",
    )
    return _settle(rt, export, planned, analysis.track, fallback=analysis.fallback)


def _reuse_track(rt: WorkerRuntime, export: Export, planned: ExportPlan, units: int) -> ExportPlan:
    """A retry renders the track an earlier attempt made (chunks it finished are reused
    as they are, so they must agree), without looking at the faces again."""
    track = track_from_json(export.focus_track or ())
    logger.info(
        "export %s: reusing the %d-point focus track of an earlier attempt", export.id, len(track)
    )
    rt.run(lifecycle.restore_chunk_frames(rt, export.id, lifecycle.ANALYSIS_INDEX, units))
    return _settle(rt, export, planned, track, fallback=export.focus_fallback)


def _settle(
    rt: WorkerRuntime, export: Export, planned: ExportPlan, track: FocusTrack, *, fallback: bool
) -> ExportPlan:
    """``planned`` with ``track``, checked by the engine and stored for every later step."""
    settled = ExportPlan(replace(planned.spec, focus_track=track), planned.plan)
    assert planned.plan.source is not None
    render.plan_render(planned.plan.source, settled.spec)  # the engine's own check of the track
    store_plan(rt, export, settled, fallback=fallback)
    return settled
