"""Exports: ask for clips (202 at once), watch them, cancel and retry them.

Creating writes the batch and its exports in one transaction, appends ``export.queued``
events, then enqueues one message per export; the answer never waits for rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from tortoise.exceptions import IntegrityError

from server.api import idempotency
from server.api.renderable import check_exportable
from server.api.schemas import MAX_EMAIL_CHARS, export_json
from server.domain import export_lifecycle as lifecycle
from server.domain.email_address import InvalidEmail, deliverable_address
from server.domain.limits import (
    ACTIVE_EXPORTS_LIMIT,
    TooManyActiveExports,
    check_active_exports,
    user_limit_lock,
)
from server.domain.models import MAX_ID_CHARS, Batch, Export, Moment, Project, new_id
from server.errors import ServiceUnavailable, ValidationFailed, echo
from server.http.access import owned
from server.http.fields import boolean, choice, invalid, read_json, string
from server.http.responses import JSONResponse
from server.http.routing import ApiRoute, Operation
from server.http.services import Services, current_user, services
from workers.render.spec import ASPECT_RATIOS, RESOLUTIONS


@dataclass(frozen=True)
class ExportRequest:
    moment_ids: tuple[str, ...]
    aspect_ratio: str
    resolution: str
    captions: bool
    notify_email: str | None


def parse_request(body: dict[str, Any], max_exports: int) -> ExportRequest:
    """The fields of POST /exports, or a 422 naming the first bad one."""
    ids = body.get("moment_ids")
    if not isinstance(ids, list) or not ids:
        raise invalid("moment_ids", "must be a non-empty array of moment IDs")
    if len(ids) > max_exports:
        raise invalid("moment_ids", f"at most {max_exports} per request")
    for index, item in enumerate(ids):
        if not isinstance(item, str) or not 1 <= len(item) <= MAX_ID_CHARS:
            raise invalid(f"moment_ids[{index}]", "must be a moment ID")
    if len(set(ids)) != len(ids):
        raise invalid("moment_ids", "must not repeat a moment")
    email = string(body, "notify_email", default=None, max_length=MAX_EMAIL_CHARS)
    if email is not None:
        try:
            email = deliverable_address(email)
        except InvalidEmail as exc:
            raise invalid("notify_email", str(exc)) from exc
    return ExportRequest(
        moment_ids=tuple(ids),
        aspect_ratio=choice(body, "aspect_ratio", ASPECT_RATIOS, default="9:16"),
        resolution=choice(body, "resolution", RESOLUTIONS, default="720p"),
        captions=boolean(body, "captions", default=True),
        notify_email=email,
    )


async def _check_moments(project: Project, ids: tuple[str, ...]) -> None:
    rows = await Moment.filter(
        id__in=list(ids), project_id=project.id, user_id=project.user_id
    ).values_list("id", flat=True)
    found = {str(row) for row in rows}
    for index, moment_id in enumerate(ids):
        if moment_id not in found:
            raise ValidationFailed(
                f"moment_ids[{index}]: no moment {echo(moment_id)} in this project",
                code="unknown_moment",
            )


async def _write_batch(
    svc: Services, project: Project, asked: ExportRequest, remember: tuple[str, str] | None
) -> tuple[list[Export], dict[str, Any]]:
    """Batch, exports and (with a key) the idempotency record: all in, or nothing — counted
    against the user's active exports in the same transaction, under the user's lock."""
    async with user_limit_lock(project.user_id, ACTIVE_EXPORTS_LIMIT) as connection:
        await check_active_exports(connection, project.user_id, len(asked.moment_ids), svc.settings)
        batch = await Batch.create(
            id=new_id("bat"), user_id=project.user_id, project=project, using_db=connection
        )
        exports = [
            await Export.create(
                id=new_id("exp"),
                user_id=project.user_id,
                project=project,
                moment_id=moment_id,
                batch=batch,
                aspect_ratio=asked.aspect_ratio,
                resolution=asked.resolution,
                captions=asked.captions,
                notify_email=asked.notify_email,
                chunk_s=svc.settings.chunk_s,
                using_db=connection,
            )
            for moment_id in asked.moment_ids
        ]
        answer = {
            "status": "processing",
            "batch_id": batch.id,
            "exports": [export_json(e) for e in exports],
        }
        if remember is not None:
            key, fingerprint = remember
            await idempotency.remember(project.user_id, key, fingerprint, answer)
    return exports, answer


async def create_exports(request: Request) -> Response:
    """Queue one export per moment; 202 with the batch, at once."""
    user = current_user(request)
    svc = services(request)
    project = await owned(Project, request.path_params["project_id"], user)
    body = await read_json(request)
    key = idempotency.key_of(request)
    fingerprint = idempotency.request_hash(request.url.path, body)
    if key is not None:
        stored = await idempotency.replay(user.id, key, fingerprint)
        if stored is not None:
            return JSONResponse(stored, status_code=202)
    asked = parse_request(body, svc.settings.max_exports_per_request)
    await _check_moments(project, asked.moment_ids)
    await check_exportable(
        project, asked.moment_ids, asked.aspect_ratio, asked.resolution, svc.settings
    )
    try:
        exports, answer = await _write_batch(
            svc, project, asked, None if key is None else (key, fingerprint)
        )
    except (IntegrityError, TooManyActiveExports):
        if key is None:
            raise
        stored = await idempotency.replay(user.id, key, fingerprint)  # a twin won the race
        if stored is None:
            raise
        return JSONResponse(stored, status_code=202)
    try:
        await lifecycle.queue(svc, exports)
    except ServiceUnavailable:
        if key is not None:
            await idempotency.forget(user.id, key)
        raise
    return JSONResponse(answer, status_code=202)


async def list_exports(request: Request) -> Response:
    """The project's exports, newest first."""
    project = await owned(Project, request.path_params["project_id"], current_user(request))
    exports = await Export.filter(project_id=project.id).order_by("-created_at", "-id")
    return JSONResponse({"exports": [export_json(e) for e in exports]})


async def get_export(request: Request) -> Response:
    export = await owned(Export, request.path_params["export_id"], current_user(request))
    return JSONResponse(export_json(export))


async def cancel_export(request: Request) -> Response:
    """Queued (unstarted) → cancelled at once; queued/running → cancelling; terminal → 409."""
    export = await owned(Export, request.path_params["export_id"], current_user(request))
    export = await lifecycle.request_cancel(services(request), export)
    return JSONResponse(export_json(export), status_code=202)


async def retry_export(request: Request) -> Response:
    """A failed or cancelled export starts again as a new attempt; anything else → 409."""
    svc = services(request)
    export = await owned(Export, request.path_params["export_id"], current_user(request))
    lifecycle.ensure_retryable(export)
    project = await Project.get(id=export.project_id)
    await check_exportable(
        project, (export.moment_id,), export.aspect_ratio, export.resolution, svc.settings
    )
    export = await lifecycle.retry(svc, export)
    return JSONResponse(export_json(export), status_code=202)


_TAGS = ("exports",)
_IDEMPOTENCY = ((idempotency.HEADER, "Same key and body within 24 h replays the first answer"),)

routes = [
    ApiRoute(
        "/projects/{project_id}/exports",
        create_exports,
        "POST",
        Operation(
            "Queue exports of moments",
            202,
            "ExportsAccepted",
            body="ExportCreate",
            errors=(400, 404, 409, 413, 422, 429, 503),
            headers=_IDEMPOTENCY,
            tags=_TAGS,
        ),
    ),
    ApiRoute(
        "/projects/{project_id}/exports",
        list_exports,
        "GET",
        Operation(
            "A project's exports, newest first", 200, "ExportList", errors=(404,), tags=_TAGS
        ),
    ),
    ApiRoute(
        "/exports/{export_id}",
        get_export,
        "GET",
        Operation("One export", 200, "Export", errors=(404,), tags=_TAGS),
    ),
    ApiRoute(
        "/exports/{export_id}/cancel",
        cancel_export,
        "POST",
        Operation("Cancel an export", 202, "Export", errors=(404, 409), tags=_TAGS),
    ),
    ApiRoute(
        "/exports/{export_id}/retry",
        retry_export,
        "POST",
        Operation(
            "Retry a failed or cancelled export",
            202,
            "Export",
            errors=(404, 409, 429, 503),
            tags=_TAGS,
        ),
    ),
]
