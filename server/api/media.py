"""An export's media for players: the signed URLs (``/api/exports/{id}/media``) and the
routes that serve them without a token (``/media/…``, checked by signature only).

The playlist is built on each request from the export's row (it grows as chunks land, so
``no-cache``); segments, the poster and the MP4 never change under one URL (``immutable``).
On S3 the stored files come as presigned URLs straight from the bucket; a signed path of
ours for one of them answers with a redirect there.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.adapters.url_signing import EXPIRES, SIGNATURE, SignatureRefused
from server.api import shapes
from server.api.media_links import (
    expiry,
    media_links,
    segment_path,
    stored_url,
    url_signer,
)
from server.clock import now_s
from server.domain.models import MAX_ID_CHARS, Export, ExportStatus
from server.domain.preview_playlist import (
    MEDIA_TYPE,
    export_plan,
    media_playlist,
    playable_chunks,
)
from server.domain.storage_keys import segment_key
from server.errors import ApiError, NotFound
from server.http.access import owned
from server.http.file_responses import serve_file
from server.http.routing import Routes
from server.http.services import current_user, services
from server.http.shapes import answer

#: Under /api, with a bearer token.
routes = Routes("exports")
#: At the top level, with a signature instead.
signed_routes = Routes("media")

_SEGMENT = re.compile(r"^([0-9]{4})\.ts$")
NO_CACHE = {"Cache-Control": "no-cache"}


def _immutable(ttl_s: int) -> dict[str, str]:
    """Cacheable by the one who holds the URL, for as long as the URL is good."""
    return {"Cache-Control": f"private, max-age={ttl_s}, immutable"}


@routes.get(
    "/exports/{export_id}/media",
    "Signed URLs of the export's preview, poster and video, usable without a token",
    200,
    shapes.MediaLinks,
    errors=(404,),
)
async def get_media(request: Request) -> Response:
    """Null where the file does not exist yet; every URL expires at ``expires_at``."""
    export = await owned(Export, request.path_params["export_id"], current_user(request))
    return answer(await media_links(services(request), export))


async def _signed_export(request: Request) -> Export:
    """The export a signed media path names, once its signature checks out (403 if not)."""
    signer = url_signer(services(request).settings)
    query = request.query_params
    try:
        signer.verify(request.url.path, query.get(EXPIRES), query.get(SIGNATURE), now_s())
    except SignatureRefused as exc:
        raise ApiError(exc.message, code=exc.code, status=403) from exc
    export_id = request.path_params["export_id"]
    export = await Export.get_or_none(id=export_id) if len(export_id) <= MAX_ID_CHARS else None
    if export is None:
        raise NotFound("the export no longer exists", code="media_not_found")
    return export


async def _stored(request: Request, key: str, media_type: str, missing: str) -> Response:
    """A stored file: from local disk (ranges work), or a redirect to a presigned URL."""
    svc = services(request)
    local = svc.storage.local_path(key)
    if local is None:
        url = await svc.storage.presigned_url(key, expires_s=svc.settings.media_url_ttl_s)
        if url is None:
            raise NotFound(missing, code="media_not_found")
        return RedirectResponse(url, status_code=302)
    headers = _immutable(svc.settings.media_url_ttl_s)
    try:
        return await serve_file(request, local, media_type, missing=missing, headers=headers)
    except NotFound as exc:
        raise NotFound(missing, code="media_not_found") from exc


@signed_routes.get(
    "/media/exports/{export_id}/preview.m3u8",
    "The live preview: an HLS EVENT playlist of the finished chunks",
    200,
    media_type=MEDIA_TYPE,
    errors=(403, 404),
    auth=False,
)
async def preview_playlist(request: Request) -> Response:
    """Grows while the export runs; ends (``#EXT-X-ENDLIST``) once it is completed; 404
    when there is nothing to play (not started, cancelled, failed, or since removed)."""
    svc = services(request)
    export = await _signed_export(request)
    plan = export_plan(export)
    segments = playable_chunks(export, plan) if plan is not None else 0
    if plan is None or segments == 0:
        raise NotFound(f"export {export.id} has no preview to play", code="media_not_found")
    expires = expiry(svc.settings)
    uris: dict[int, str] = {}
    for chunk in plan.chunks[:segments]:
        url = await stored_url(
            svc, segment_key(export.id, chunk.index), segment_path(export.id, chunk.index), expires
        )
        if url is None:
            raise NotFound(f"export {export.id} has no preview to play", code="media_not_found")
        uris[chunk.index] = url
    completed = ExportStatus(export.status) is ExportStatus.COMPLETED
    text = media_playlist(plan, segments, ended=completed, uri=uris.__getitem__)
    return Response(text, media_type=MEDIA_TYPE, headers=NO_CACHE)


@signed_routes.get(
    "/media/exports/{export_id}/preview/{segment}",
    "One preview segment (MPEG-TS)",
    200,
    media_type="video/mp2t",
    also=(206, 302),
    errors=(403, 404),
    auth=False,
)
async def preview_segment(request: Request) -> Response:
    export = await _signed_export(request)
    match = _SEGMENT.match(request.path_params["segment"])
    if match is None:
        raise NotFound("no such preview segment", code="media_not_found")
    key = segment_key(export.id, int(match.group(1)))
    return await _stored(request, key, "video/mp2t", "the preview segment is gone")


@signed_routes.get(
    "/media/exports/{export_id}/poster.jpg",
    "The poster: the sharpest of several frames of the first chunk",
    200,
    media_type="image/jpeg",
    also=(302,),
    errors=(403, 404),
    auth=False,
)
async def poster(request: Request) -> Response:
    export = await _signed_export(request)
    if not export.poster_key:
        raise NotFound(f"export {export.id} has no poster", code="media_not_found")
    return await _stored(request, export.poster_key, "image/jpeg", "the poster is gone")


@signed_routes.get(
    "/media/exports/{export_id}/video.mp4",
    "The finished MP4, streamable (Range requests → 206)",
    200,
    media_type="video/mp4",
    also=(206, 302),
    errors=(403, 404, 416),
    auth=False,
)
async def video(request: Request) -> Response:
    export = await _signed_export(request)
    if ExportStatus(export.status) != ExportStatus.COMPLETED or not export.video_key:
        raise NotFound(f"export {export.id} is not completed", code="media_not_found")
    return await _stored(request, export.video_key, "video/mp4", "the export's file is gone")
