"""The finished MP4: byte ranges from local storage, or a redirect to a presigned S3 URL.

Ranges are parsed here (one ``bytes=`` range; anything else is served whole, as RFC 9110
allows) so that an unsatisfiable range is a 416 in our error format with ``Content-Range``.
Every answer carries a strong ``ETag`` and ``Last-Modified``; an ``If-Range`` naming either
of them as they are now lets the range through, any other value gets the whole file (200).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from server.domain.models import Export, ExportStatus
from server.errors import Conflict, NotFound, RangeNotSatisfiable
from server.http.access import owned
from server.http.routing import Routes
from server.http.services import current_user, services

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK_BYTES = 256 * 1024

routes = Routes("exports")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` inclusive for one satisfiable byte range; None to send it all.

    Raises RangeNotSatisfiable when the range is well-formed but outside the file.
    """
    if header is None:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first_raw, last_raw = match.groups()
    if not first_raw and not last_raw:
        return None
    if not first_raw:
        suffix = int(last_raw)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(size - suffix, 0), size - 1
    first = int(first_raw)
    last = int(last_raw) if last_raw else size - 1
    if last_raw and last < first:
        return None
    if first >= size:
        raise _unsatisfiable(size)
    return first, min(last, size - 1)


def entity_tag(stat: os.stat_result) -> str:
    """A strong validator: it changes whenever the file's bytes could have."""
    return f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'


def if_range_matches(if_range: str | None, etag: str, mtime_s: float) -> bool:
    """RFC 9110 §13.1.5: honour ``Range`` only if ``If-Range`` is absent, is our ETag (strong
    comparison; a weak ``W/`` tag never matches) or is an HTTP-date equal to Last-Modified."""
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(('"', "W/")):
        return value == etag
    try:
        date = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return False
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return int(date.timestamp()) == int(mtime_s)


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"the range is outside the file ({size} bytes)",
        headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
    )


async def _read(path: Path, first: int, length: int) -> AsyncIterator[bytes]:
    """File bytes [first, first + length) read in a worker thread, chunk by chunk."""
    async with await anyio.open_file(path, "rb") as handle:
        await handle.seek(first)
        remaining = length
        while remaining > 0:
            chunk = await handle.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


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
    try:
        stat = await anyio.to_thread.run_sync(os.stat, local)
    except FileNotFoundError as exc:
        raise NotFound("the export's file is missing") from exc
    size = stat.st_size
    etag = entity_tag(stat)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'inline; filename="{export.id}.mp4"',
        "ETag": etag,
        "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
    }
    byte_range = None
    if if_range_matches(request.headers.get("if-range"), etag, stat.st_mtime):
        byte_range = parse_range(request.headers.get("range"), size)
    if byte_range is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_read(local, 0, size), media_type="video/mp4", headers=headers)
    first, last = byte_range
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    headers["Content-Length"] = str(last - first + 1)
    return StreamingResponse(
        _read(local, first, last - first + 1),
        status_code=206,
        media_type="video/mp4",
        headers=headers,
    )
