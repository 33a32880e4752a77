"""Limits that protect the service from one caller: source size and shape, active exports.

Each limit is a setting; each refusal names the limit so a client can tell what to change.
Body-size limits live where bodies are read (``api/uploads.py``, ``api/fields.py``).
"""

from __future__ import annotations

import av

from server.errors import ApiError, ValidationFailed
from server.models import Export, ExportStatus
from server.settings import Settings
from workers.render.spec import SourceInfo

#: Seconds a client is told to wait after hitting the active-exports limit.
ACTIVE_EXPORTS_RETRY_AFTER_S = 30

ACTIVE_STATUSES = [ExportStatus.QUEUED, ExportStatus.RUNNING, ExportStatus.CANCELLING]


def check_dimensions(
    width: int, height: int, settings: Settings, filename: str, *, minimum: bool = True
) -> None:
    """422 ``source_too_large`` (or, with ``minimum``, ``source_too_small``) for frames
    outside the settings."""
    if (
        width > settings.max_source_width
        or height > settings.max_source_height
        or width * height > settings.max_source_pixels
    ):
        raise ValidationFailed(
            f"file: {filename} is {width}×{height}; the limit is "
            f"{settings.max_source_width}×{settings.max_source_height} "
            f"({settings.max_source_pixels} pixels)",
            code="source_too_large",
        )
    if minimum and min(width, height) < settings.min_source_side:
        raise ValidationFailed(
            f"file: {filename} is {width}×{height}; both sides must be at least "
            f"{settings.min_source_side} pixels",
            code="source_too_small",
        )


def check_declared_dimensions(path: str, settings: Settings, filename: str) -> None:
    """Refuse a source whose header claims an oversized frame before any frame is decoded.

    A file we cannot open is left for the probe to describe (415); this only stops a
    crafted header from making the decoder allocate a gigantic frame.
    """
    try:
        with av.open(path, "r") as container:
            sizes = [
                (s.codec_context.width, s.codec_context.height) for s in container.streams.video
            ]
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError):
        return
    for width, height in sizes:
        check_dimensions(width, height, settings, filename, minimum=False)


def check_source(info: SourceInfo, settings: Settings, filename: str) -> None:
    """422 when the probed source is too long, too large or too small."""
    if info.duration_s > settings.max_source_s:
        raise ValidationFailed(
            f"file: the video is {info.duration_s:.1f} s long; "
            f"the limit is {settings.max_source_s:.0f} s",
            code="source_too_long",
        )
    check_dimensions(info.width, info.height, settings, filename)


async def check_active_exports(user_id: str, adding: int, settings: Settings) -> None:
    """429 with ``Retry-After`` when ``adding`` more would exceed the user's active exports."""
    limit = settings.max_active_exports_per_user
    active = await Export.filter(user_id=user_id, status__in=ACTIVE_STATUSES).count()
    if active + adding > limit:
        raise ApiError(
            f"you have {active} exports in progress; at most {limit} may run at once",
            code="too_many_active_exports",
            status=429,
            headers={"Retry-After": str(ACTIVE_EXPORTS_RETRY_AFTER_S)},
        )
