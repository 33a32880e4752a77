"""An export's render plan, made once per attempt and read by every later step.

``plan_export`` probes the source (the only probe of an export), plans the chunks and
stores spec and plan on the export's row (``Export.plan``); each chunk, the audio and
the finalizer rebuild them from there, so they never touch the source's header or plan
again — and all of them render the very same plan, even if the moment is edited or a
worker runs with other render settings meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from server.domain.models import Export, Moment, Project
from workers import render
from workers.render.focus import track_from_json, track_to_json
from workers.render.spec import CaptionStyle, RenderPlan, RenderSpec, caption_from_json
from workers.runtime import WorkerRuntime
from workers.sources import local_source

logger = logging.getLogger("reelay.worker")


@dataclass(frozen=True)
class ExportPlan:
    """What every step of one export attempt renders: the spec and its plan."""

    spec: RenderSpec
    plan: RenderPlan

    def to_json(self, attempt: int) -> dict[str, object]:
        return {"attempt": attempt, "spec": self.spec.to_json(), "plan": self.plan.to_json()}


def spec_for(export: Export, moment: Moment, rt: WorkerRuntime) -> RenderSpec:
    """The render spec of an export: the moment's range and captions, the export's framing."""
    captions = tuple(caption_from_json(c) for c in (moment.captions or []))
    auto = moment.focus_mode == "auto"
    return RenderSpec(
        start_s=moment.start_s,
        end_s=moment.end_s,
        aspect_ratio=export.aspect_ratio,  # type: ignore[arg-type]
        resolution=export.resolution,  # type: ignore[arg-type]
        focus_x=moment.focus_x,
        focus_track=() if auto else track_from_json(moment.focus_track or ()),
        focus_mode="auto" if auto else "manual",
        captions=captions if export.captions else (),
        caption_style=CaptionStyle.from_json(moment.caption_style),
        preset=rt.settings.render_preset,
        crf=rt.settings.render_crf,
        chunk_s=export.chunk_s,
    )


def stored_plan(export: Export) -> ExportPlan | None:
    """The plan stored for ``export``'s current attempt; None if there is none (or it is
    unreadable, e.g. written by an older version: the caller plans again)."""
    stored = export.plan
    if not isinstance(stored, dict) or stored.get("attempt") != export.attempt:
        return None
    try:
        return ExportPlan(
            RenderSpec.from_json(stored["spec"]), RenderPlan.from_json(stored["plan"])
        )
    except (KeyError, TypeError, ValueError) as exc:
        logger.warning("export %s: stored plan unreadable (%s); planning again", export.id, exc)
        return None


async def source_path(rt: WorkerRuntime, export: Export) -> str:
    """The export's source on this machine's disk (downloaded once per machine from S3)."""
    project = await Project.get(id=export.project_id)
    return str(await local_source(rt, project))


class PlanPending(RuntimeError):
    """A step found no plan for an auto-reframed export: only the plan step analyses
    faces, so this step fails for now and its retry finds the plan stored."""


def plan_of(rt: WorkerRuntime, export: Export) -> ExportPlan:
    """The attempt's plan: the stored one, else made now — probing the source — and stored.

    Raises the render engine's errors (not a video, moment out of range, …) when planning,
    and PlanPending for an auto-reframed export whose plan step has not finished.
    """
    known = stored_plan(export)
    if known is not None:
        return known
    made = make_plan(rt, export)
    if made.spec.needs_analysis:
        raise PlanPending(f"export {export.id}: its focus track is not analysed yet")
    store_plan(rt, export, made, fallback=False)
    return made


def make_plan(rt: WorkerRuntime, export: Export) -> ExportPlan:
    """Probe the source and plan the moment (nothing stored)."""
    moment = rt.run(Moment.get(id=export.moment_id))
    src = rt.run(source_path(rt, export))
    spec = spec_for(export, moment, rt)
    made = ExportPlan(spec, render.plan_render(render.probe(src), spec))
    logger.info("export %s: source probed, %d chunks planned", export.id, len(made.plan.chunks))
    return made


def store_plan(rt: WorkerRuntime, export: Export, made: ExportPlan, *, fallback: bool) -> None:
    """Store the attempt's plan, and beside it the focus track it renders (None: the static
    ``focus_x``) and whether auto reframe fell back for want of a face."""
    track = track_to_json(made.spec.focus_track) if made.spec.focus_track else None
    rt.run(
        Export.filter(id=export.id, attempt=export.attempt).update(
            plan=made.to_json(export.attempt), focus_track=track, focus_fallback=fallback
        )
    )
