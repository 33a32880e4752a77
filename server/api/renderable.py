"""What the render engine would refuse, refused at the door (422) before anything is queued.

The rules are the planner's own functions (``moment_frames``, ``output_size_for``,
``check_output_size``) applied to the probed numbers stored on the project, so the API and
the worker cannot drift apart: a moment or export accepted here plans in the worker.
"""

from __future__ import annotations

from collections.abc import Sequence

from server.domain.models import Moment, Project
from server.errors import ValidationFailed
from server.settings import Settings
from workers.render import (
    OutputBounds,
    RenderError,
    check_output_size,
    moment_frames,
    output_size_for,
)


def output_bounds(settings: Settings) -> OutputBounds:
    """The largest output we render: no larger than a source we accept, nor than the encoder
    opens."""
    return OutputBounds(
        settings.max_source_width, settings.max_source_height, settings.max_source_pixels
    ).within_encoder()


def check_moment_length(project: Project, start_s: float, end_s: float, field: str) -> None:
    """422 ``moment_too_short`` when the moment holds no whole frame of the project's source."""
    try:
        moment_frames(start_s, end_s, project.fps)
    except RenderError as exc:
        raise ValidationFailed(f"{field}: {exc.message}", code=exc.code) from exc


def check_output(project: Project, aspect_ratio: str, resolution: str, settings: Settings) -> None:
    """422 ``output_too_large`` (naming size and limit) when the output would be too big."""
    try:
        width, height = output_size_for(project.width, project.height, aspect_ratio, resolution)
        check_output_size(width, height, output_bounds(settings))
    except RenderError as exc:
        raise ValidationFailed(f"aspect_ratio: {exc.message}", code=exc.code) from exc


async def check_exportable(
    project: Project,
    moment_ids: Sequence[str],
    aspect_ratio: str,
    resolution: str,
    settings: Settings,
) -> None:
    """Every export of ``moment_ids`` at this framing would plan; else the first 422."""
    check_output(project, aspect_ratio, resolution, settings)
    rows = await Moment.filter(id__in=list(moment_ids), project_id=project.id).values_list(
        "id", "start_s", "end_s"
    )
    ranges = {str(moment_id): (start_s, end_s) for moment_id, start_s, end_s in rows}
    for index, moment_id in enumerate(moment_ids):
        if moment_id in ranges:
            start_s, end_s = ranges[moment_id]
            check_moment_length(project, start_s, end_s, f"moment_ids[{index}]")
