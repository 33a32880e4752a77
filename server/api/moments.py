"""Moments: the time ranges (with captions) to cut out of a project's source.

Validated here against the probed source, so a render never starts on a range it cannot
cut; every rejection is a 422 whose message names the field.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.api import shapes
from server.api.renderable import check_moment_length
from server.api.shapes import TIME_EPSILON_S, MomentCreate
from server.domain.models import Moment, Project, new_id
from server.errors import ValidationFailed
from server.http.access import owned
from server.http.fields import read_body
from server.http.routing import ID, Link, Routes, link, member
from server.http.services import current_user, services
from server.http.shapes import answer
from server.settings import Settings

routes = Routes("moments")


def _next(moment_id: str, project_id: str) -> tuple[Link, ...]:
    """What a moment's answer leads to: itself, and exporting it."""
    return (
        link("get_moment", moment_id=moment_id),
        link("create_exports", project_id=project_id, body={"moment_ids": [moment_id]}),
    )


def _out_of_range(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="moment_out_of_range")


def check_against_source(asked: MomentCreate, project: Project, settings: Settings) -> None:
    """The moment lies inside the probed source, holds a whole frame and is not longer
    than the limit; else the 422 naming ``end_s``."""
    start_s, end_s = asked.start_s, asked.end_s
    if end_s > project.duration_s + TIME_EPSILON_S:
        raise _out_of_range(f"end_s: {end_s} is past the source's end ({project.duration_s:.3f} s)")
    check_moment_length(project, start_s, end_s, "end_s")
    if end_s - start_s > settings.max_moment_s + TIME_EPSILON_S:
        raise ValidationFailed(
            f"end_s: the moment is {end_s - start_s:.1f} s long; "
            f"the limit is {settings.max_moment_s:g} s",
            code="moment_too_long",
        )


@routes.post(
    "/projects/{project_id}/moments",
    "Mark a moment to cut",
    201,
    shapes.Moment,
    body=MomentCreate,
    errors=(400, 404, 413, 422),
    links=_next(ID, member("/project_id")),
)
async def create_moment(request: Request) -> Response:
    user = current_user(request)
    project = await owned(Project, request.path_params["project_id"], user)
    asked = await read_body(request, MomentCreate)
    check_against_source(asked, project, services(request).settings)
    fields = asked.model_dump(exclude={"focus_track"})
    moment = await Moment.create(
        id=new_id("mom"),
        user_id=user.id,
        project=project,
        focus_track=asked.stored_track(),
        **fields,
    )
    return answer(shapes.Moment.of(moment), 201)


@routes.get(
    "/projects/{project_id}/moments", "A project's moments", 200, shapes.MomentList, errors=(404,)
)
async def list_moments(request: Request) -> Response:
    """The project's moments in source order."""
    user = current_user(request)
    project = await owned(Project, request.path_params["project_id"], user)
    moments = await Moment.filter(project_id=project.id).order_by("start_s", "created_at", "id")
    return answer(shapes.MomentList(moments=[shapes.Moment.of(m) for m in moments]))


@routes.get("/moments/{moment_id}", "One moment", 200, shapes.Moment, errors=(404,))
async def get_moment(request: Request) -> Response:
    moment = await owned(Moment, request.path_params["moment_id"], current_user(request))
    return answer(shapes.Moment.of(moment))
