"""Moments: the time ranges (with captions) to cut out of a project's source.

Validated here against the probed source, so a render never starts on a range it cannot
cut; every rejection is a 422 whose message names the field.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from server.api.renderable import check_moment_length
from server.api.schemas import MAX_TITLE_CHARS, moment_json
from server.domain.models import Moment, Project, new_id
from server.errors import ValidationFailed
from server.http.access import owned
from server.http.fields import invalid, number, object_list, read_json, string
from server.http.responses import JSONResponse
from server.http.routing import ApiRoute, Operation
from server.http.services import current_user, services
from server.settings import Settings

#: Float slack when comparing times against the probed duration (well under one frame).
TIME_EPSILON_S = 1e-3


def _out_of_range(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="moment_out_of_range")


def _captions(
    body: dict[str, Any], start_s: float, end_s: float, settings: Settings
) -> list[dict[str, Any]]:
    """Caption lines with times inside the moment and non-empty, capped text."""
    captions = []
    items = object_list(body, "captions", max_items=settings.max_captions, default=[])
    for index, item in enumerate(items):
        path = f"captions[{index}]."
        c_start = number(item, "start_s", path=path)
        c_end = number(item, "end_s", path=path)
        text = string(item, "text", max_length=settings.max_caption_chars, min_length=1, path=path)
        if text is None or not text.strip():
            raise invalid(path + "text", "must not be empty")
        if c_end <= c_start:
            raise invalid(path + "end_s", "must be greater than start_s")
        if c_start < start_s - TIME_EPSILON_S or c_end > end_s + TIME_EPSILON_S:
            raise invalid(
                path + "start_s",
                f"caption {c_start}–{c_end} s must lie inside the moment {start_s}–{end_s} s",
            )
        captions.append({"start_s": c_start, "end_s": c_end, "text": text})
    return captions


def validate_moment(body: dict[str, Any], project: Project, settings: Settings) -> dict[str, Any]:
    """The fields of a new moment, or a 422 naming the first bad one."""
    max_moment_s = settings.max_moment_s
    start_s = number(body, "start_s", minimum=0)
    end_s = number(body, "end_s")
    if end_s <= start_s:
        raise invalid("end_s", f"must be greater than start_s ({start_s})")
    if end_s > project.duration_s + TIME_EPSILON_S:
        raise _out_of_range(f"end_s: {end_s} is past the source's end ({project.duration_s:.3f} s)")
    check_moment_length(project, start_s, end_s, "end_s")
    if end_s - start_s > max_moment_s + TIME_EPSILON_S:
        raise ValidationFailed(
            f"end_s: the moment is {end_s - start_s:.1f} s long; the limit is {max_moment_s:g} s",
            code="moment_too_long",
        )
    title = string(body, "title", default="", max_length=MAX_TITLE_CHARS) or ""
    focus_x = number(body, "focus_x", default=0.5, minimum=0.0, maximum=1.0)
    return {
        "start_s": start_s,
        "end_s": end_s,
        "title": title,
        "focus_x": focus_x,
        "captions": _captions(body, start_s, end_s, settings),
    }


async def create_moment(request: Request) -> Response:
    user = current_user(request)
    project = await owned(Project, request.path_params["project_id"], user)
    body = await read_json(request)
    fields = validate_moment(body, project, services(request).settings)
    moment = await Moment.create(id=new_id("mom"), user_id=user.id, project=project, **fields)
    return JSONResponse(moment_json(moment), status_code=201)


async def list_moments(request: Request) -> Response:
    """The project's moments in source order."""
    user = current_user(request)
    project = await owned(Project, request.path_params["project_id"], user)
    moments = await Moment.filter(project_id=project.id).order_by("start_s", "created_at", "id")
    return JSONResponse({"moments": [moment_json(m) for m in moments]})


async def get_moment(request: Request) -> Response:
    moment = await owned(Moment, request.path_params["moment_id"], current_user(request))
    return JSONResponse(moment_json(moment))


_TAGS = ("moments",)

routes = [
    ApiRoute(
        "/projects/{project_id}/moments",
        create_moment,
        "POST",
        Operation(
            "Mark a moment to cut",
            201,
            "Moment",
            body="MomentCreate",
            errors=(400, 404, 413, 422),
            tags=_TAGS,
        ),
    ),
    ApiRoute(
        "/projects/{project_id}/moments",
        list_moments,
        "GET",
        Operation("A project's moments", 200, "MomentList", errors=(404,), tags=_TAGS),
    ),
    ApiRoute(
        "/moments/{moment_id}",
        get_moment,
        "GET",
        Operation("One moment", 200, "Moment", errors=(404,), tags=_TAGS),
    ),
]
