"""Exports: ask for clips (202 at once), watch them, cancel and retry them.

Creating writes the batch and its exports in one transaction, appends ``export.queued``
events, then enqueues one message per export; the answer never waits for rendering.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from tortoise.exceptions import IntegrityError

from server.api import idempotency, shapes
from server.api.media_links import export_answer
from server.api.renderable import check_exportable
from server.api.shapes import ExportCreate
from server.domain import export_lifecycle as lifecycle
from server.domain.limits import (
    ACTIVE_EXPORTS_LIMIT,
    TooManyActiveExports,
    check_active_exports,
    user_limit_lock,
)
from server.domain.models import Batch, Export, Moment, Project, new_id
from server.errors import ServiceUnavailable, ValidationFailed, echo
from server.http.access import owned
from server.http.fields import read_json, validated
from server.http.responses import JSONResponse
from server.http.routing import ID, Link, Routes, link, member
from server.http.services import Services, current_user, services
from server.http.shapes import answer

routes = Routes("exports")
_IDEMPOTENCY = ((idempotency.HEADER, "Same key and body within 24 h replays the first answer"),)


def _next(export_id: str) -> tuple[Link, ...]:
    """What an export's answer leads to (``export_id`` is where its ID is)."""
    operations = ("get_export", "cancel_export", "retry_export", "get_video", "get_media")
    return tuple(link(operation, export_id=export_id) for operation in operations)


async def _check_moments(project: Project, ids: list[str]) -> None:
    rows = await Moment.filter(
        id__in=ids, project_id=project.id, user_id=project.user_id
    ).values_list("id", flat=True)
    found = {str(row) for row in rows}
    for index, moment_id in enumerate(ids):
        if moment_id not in found:
            raise ValidationFailed(
                f"moment_ids[{index}]: no moment {echo(moment_id)} in this project",
                code="unknown_moment",
            )


async def _write_batch(
    svc: Services, project: Project, asked: ExportCreate, remember: tuple[str, str] | None
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
        accepted = shapes.ExportsAccepted(
            status="processing", batch_id=batch.id, exports=[shapes.Export.of(e) for e in exports]
        ).model_dump(mode="json")
        if remember is not None:
            key, fingerprint = remember
            await idempotency.remember(project.user_id, key, fingerprint, accepted)
    return exports, accepted


@routes.post(
    "/projects/{project_id}/exports",
    "Queue exports of moments",
    202,
    shapes.ExportsAccepted,
    body=ExportCreate,
    errors=(400, 404, 409, 413, 422, 429, 503),
    headers=_IDEMPOTENCY,
    links=(link("get_batch", batch_id=member("/batch_id")), *_next(member("/exports/0/id"))),
)
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
    asked = validated(request, ExportCreate, body)
    await _check_moments(project, asked.moment_ids)
    await check_exportable(
        project, asked.moment_ids, asked.aspect_ratio, asked.resolution, svc.settings
    )
    try:
        exports, accepted = await _write_batch(
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
    return JSONResponse(accepted, status_code=202)


@routes.get(
    "/projects/{project_id}/exports",
    "A project's exports, newest first",
    200,
    shapes.ExportList,
    errors=(404,),
)
async def list_exports(request: Request) -> Response:
    """The project's exports, newest first."""
    project = await owned(Project, request.path_params["project_id"], current_user(request))
    exports = await Export.filter(project_id=project.id).order_by("-created_at", "-id")
    svc = services(request)
    return answer(shapes.ExportList(exports=[await export_answer(svc, e) for e in exports]))


@routes.get(
    "/exports/{export_id}", "One export", 200, shapes.Export, errors=(404,), links=_next(ID)
)
async def get_export(request: Request) -> Response:
    export = await owned(Export, request.path_params["export_id"], current_user(request))
    return answer(await export_answer(services(request), export))


@routes.post(
    "/exports/{export_id}/cancel",
    "Cancel an export",
    202,
    shapes.Export,
    errors=(404, 409),
    links=_next(ID),
)
async def cancel_export(request: Request) -> Response:
    """Queued (unstarted) → cancelled at once; queued/running → cancelling; terminal → 409."""
    export = await owned(Export, request.path_params["export_id"], current_user(request))
    export = await lifecycle.request_cancel(services(request), export)
    return answer(shapes.Export.of(export), 202)


@routes.post(
    "/exports/{export_id}/retry",
    "Retry a failed or cancelled export",
    202,
    shapes.Export,
    errors=(404, 409, 429, 503),
    links=_next(ID),
)
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
    return answer(shapes.Export.of(export), 202)
