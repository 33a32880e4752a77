"""Projects: upload a source video (streamed, probed, bounded), list, read and delete them.

An upload either ends as a probed Project row with its file in storage, or leaves nothing
behind at all: every failure path removes the stored bytes and any temporary copy.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

from starlette.requests import Request
from starlette.responses import Response

from server.adapters.storage import UploadTooLarge
from server.api import shapes
from server.api.shapes import MAX_NAME_CHARS, ProjectUpload
from server.api.uploads import ENVELOPE_BYTES, MultipartUpload
from server.domain import export_lifecycle as lifecycle
from server.domain.limits import check_declared_dimensions, check_source
from server.domain.models import Project, new_id
from server.domain.storage_keys import source_key
from server.errors import ApiError, PayloadTooLarge, ValidationFailed, echo
from server.http.access import owned
from server.http.routing import ID, Link, Routes, link
from server.http.services import Services, current_user, services
from server.http.shapes import answer
from server.settings import Settings
from workers.render.errors import NotAVideo, RenderError
from workers.render.probe import probe
from workers.render.spec import SourceInfo

routes = Routes("projects")


def _next(project_id: str) -> tuple[Link, ...]:
    """What a project's answer leads to (``project_id`` is where its ID is)."""
    operations = ("get_project", "list_moments", "create_moment", "list_exports", "list_events")
    return (
        *(link(operation, project_id=project_id) for operation in operations),
        link("delete_project", project_id=project_id),
    )


async def _tee(chunks: AsyncIterator[bytes], copy: IO[bytes]) -> AsyncIterator[bytes]:
    """Pass chunks on while writing them to a local copy (off the event loop)."""
    async for chunk in chunks:
        await asyncio.to_thread(copy.write, chunk)
        yield chunk


def _probe(path: Path, filename: str, settings: Settings) -> SourceInfo:
    """Probe, with messages that name the user's file and never our paths."""
    check_declared_dimensions(str(path), settings, filename)
    try:
        info = probe(str(path))
    except NotAVideo as exc:
        raise ApiError(f"{filename} is not a decodable video", code=exc.code, status=415) from exc
    except RenderError as exc:
        message = exc.message.replace(path.name, filename).replace(str(path.parent), "")
        raise ApiError(message, code=exc.code, status=415) from exc
    if info.duration_s <= 0:
        raise ApiError(f"{filename} is a still image, not a video", code="not_a_video", status=415)
    return info


async def _store_and_probe(
    svc: Services, upload: MultipartUpload, key: str, filename: str
) -> tuple[int, SourceInfo]:
    """Stream the file part into storage and probe it; raises with nothing cleaned yet."""
    max_bytes = svc.settings.max_upload_mb * 1024 * 1024
    local = svc.storage.local_path(key)
    if local is not None:
        size = await svc.storage.save_stream(key, upload.file_chunks(), max_bytes=max_bytes)
        await upload.finish()
        return size, await asyncio.to_thread(_probe, local, filename, svc.settings)
    with tempfile.NamedTemporaryFile(prefix="reelay-upload-", suffix=Path(key).suffix) as copy:
        chunks = _tee(upload.file_chunks(), copy)
        size = await svc.storage.save_stream(key, chunks, max_bytes=max_bytes)
        await upload.finish()
        await asyncio.to_thread(copy.flush)
        return size, await asyncio.to_thread(_probe, Path(copy.name), filename, svc.settings)


@routes.post(
    "/projects",
    "Upload a source video",
    201,
    shapes.Project,
    multipart=ProjectUpload,
    errors=(400, 413, 415, 422),
    links=_next(ID),
)
async def create_project(request: Request) -> Response:
    """Upload a source video as ``multipart/form-data`` (``file``, optional ``name``)."""
    user = current_user(request)
    svc = services(request)
    max_bytes = svc.settings.max_upload_mb * 1024 * 1024
    upload = MultipartUpload(request, file_field="file", max_body_bytes=max_bytes + ENVELOPE_BYTES)
    if not await upload.open_file():
        raise ValidationFailed("file: required (a multipart part named 'file')")
    project_id = new_id("prj")
    filename = os.path.basename(upload.filename or "") or "upload"
    shown = echo(filename)  # how messages name the file: never its whole length
    key = source_key(project_id, upload.filename)
    created = False
    try:
        try:
            size, info = await _store_and_probe(svc, upload, key, shown)
        except UploadTooLarge as exc:
            raise PayloadTooLarge(
                f"file is over the {svc.settings.max_upload_mb} MB upload limit",
                code="upload_too_large",
            ) from exc
        check_source(info, svc.settings, shown)
        name = upload.fields.get("name", "").strip()
        if len(name) > MAX_NAME_CHARS:
            raise ValidationFailed(f"name: too long (max {MAX_NAME_CHARS} characters)")
        name = name or Path(filename).stem[:MAX_NAME_CHARS] or "Untitled"
        project = await Project.create(
            id=project_id,
            user_id=user.id,
            name=name,
            source_key=key,
            duration_s=info.duration_s,
            width=info.width,
            height=info.height,
            fps=info.fps,
            has_audio=info.has_audio,
            size_bytes=size,
        )
        created = True
    finally:
        if not created:  # whatever went wrong, no stored bytes outlive the request
            await asyncio.shield(svc.storage.delete(key))
    return answer(shapes.Project.from_row(project), 201)


@routes.get("/projects", "List your projects", 200, shapes.ProjectList)
async def list_projects(request: Request) -> Response:
    """The caller's projects, newest first."""
    user = current_user(request)
    projects = await Project.filter(user_id=user.id).order_by("-created_at", "-id")
    return answer(shapes.ProjectList(projects=[shapes.Project.from_row(p) for p in projects]))


@routes.get("/projects/{project_id}", "One project", 200, shapes.Project, errors=(404,))
async def get_project(request: Request) -> Response:
    project = await owned(Project, request.path_params["project_id"], current_user(request))
    return answer(shapes.Project.from_row(project))


@routes.delete(
    "/projects/{project_id}", "Delete a project, its exports and files", 204, errors=(404,)
)
async def delete_project(request: Request) -> Response:
    """Stop its exports, delete its rows (cascading) and every file it owns."""
    project = await owned(Project, request.path_params["project_id"], current_user(request))
    await lifecycle.delete_project(services(request), project)
    return Response(status_code=204)
