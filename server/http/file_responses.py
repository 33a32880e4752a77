"""Serving a stored file from local disk: one byte range, validators, streamed reads.

Ranges are parsed here (one ``bytes=`` range; anything else is served whole, as RFC 9110
allows) so that an unsatisfiable range is a 416 in our error format with ``Content-Range``.
Every answer carries a strong ``ETag`` and ``Last-Modified``; an ``If-Range`` naming either
of them as they are now lets the range through, any other value gets the whole file (200).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Mapping
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from server.errors import NotFound, RangeNotSatisfiable

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK_BYTES = 256 * 1024


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


async def serve_file(
    request: Request,
    path: Path,
    media_type: str,
    *,
    missing: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``path`` whole (200) or the one range asked for (206); 404 ``missing`` if it is gone."""
    try:
        stat = await anyio.to_thread.run_sync(os.stat, path)
    except FileNotFoundError as exc:
        raise NotFound(missing) from exc
    size = stat.st_size
    etag = entity_tag(stat)
    answer_headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
        **(headers or {}),
    }
    byte_range = None
    if if_range_matches(request.headers.get("if-range"), etag, stat.st_mtime):
        byte_range = parse_range(request.headers.get("range"), size)
    if byte_range is None:
        answer_headers["Content-Length"] = str(size)
        return StreamingResponse(
            _read(path, 0, size), media_type=media_type, headers=answer_headers
        )
    first, last = byte_range
    answer_headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    answer_headers["Content-Length"] = str(last - first + 1)
    return StreamingResponse(
        _read(path, first, last - first + 1),
        status_code=206,
        media_type=media_type,
        headers=answer_headers,
    )
