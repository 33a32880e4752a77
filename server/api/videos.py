"""The finished MP4 for API clients: byte ranges from local storage, or a redirect to a
presigned S3 URL (``server.http.file_responses`` serves the bytes)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.domain.models import Export, ExportStatus
from server.errors import Conflict, NotFound
from server.http.access import owned
from server.http.file_responses import serve_file
from server.http.routing import Routes
from server.http.services import current_user, services

routes = Routes("exports")


@routes.get(
    "/exports/{export_id}/video",
    "The finished MP4 (Range requests → 206; on S3 a 302 to a presigned URL)",
    200,
    media_type="video/mp4",
    also=(206, 302),
    errors=(404, 409, 416),
)
async def get_video(request: Request) -> Response:
    """Completed exports only (else 409)."""
    svc = services(request)
    export = await owned(Export, request.path_params["export_id"], current_user(request))
    if ExportStatus(export.status) != ExportStatus.COMPLETED or not export.video_key:
        raise Conflict(f"export is {export.status}, not completed", code="export_not_completed")
    local = svc.storage.local_path(export.video_key)
    if local is None:
        url = await svc.storage.presigned_url(
            export.video_key,
            expires_s=svc.settings.presign_expires_s,
            filename=f"{export.id}.mp4",
        )
        if url is None:
            raise NotFound("the export's file is missing")
        return RedirectResponse(url, status_code=302)
    return await serve_file(
        request,
        local,
        "video/mp4",
        missing="the export's file is missing",
        headers={"Content-Disposition": f'inline; filename="{export.id}.mp4"'},
    )
