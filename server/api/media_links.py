"""The signed URLs of an export's media: where a player may fetch them without a token.

On local storage every URL is a path of this service signed with ``UrlSigner`` (the web
process serves it, ``server.api.media``). On S3 the poster, the MP4 and the preview's
segments are presigned S3 URLs; the playlist is always ours, because it changes as
chunks land. Every URL made in one answer expires at the same instant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from server.adapters.url_signing import UrlSigner, signing_key
from server.api import shapes
from server.clock import now_s
from server.domain.models import Export, ExportStatus
from server.domain.preview_playlist import export_plan, playable_chunks
from server.http.services import Services
from server.settings import Settings


@lru_cache(maxsize=4)
def _signer(key: bytes) -> UrlSigner:
    return UrlSigner(key)


def url_signer(settings: Settings) -> UrlSigner:
    return _signer(signing_key(settings.media_url_secret, settings.jwt_secret))


def media_path(export_id: str, name: str) -> str:
    """The path of one of an export's media files as this service serves it."""
    return f"/media/exports/{export_id}/{name}"


def preview_path(export_id: str) -> str:
    return media_path(export_id, "preview.m3u8")


def segment_path(export_id: str, index: int) -> str:
    return media_path(export_id, f"preview/{index:04d}.ts")


def poster_path(export_id: str) -> str:
    return media_path(export_id, "poster.jpg")


def video_path(export_id: str) -> str:
    return media_path(export_id, "video.mp4")


def expiry(settings: Settings) -> int:
    """The Unix time at which URLs made now stop working."""
    return int(now_s()) + settings.media_url_ttl_s


async def stored_url(
    svc: Services, key: str, path: str, expires: int, filename: str | None = None
) -> str | None:
    """A URL for stored ``key``: our signed ``path`` on local storage, else presigned."""
    if svc.storage.local_path(key) is not None:
        return url_signer(svc.settings).sign(path, expires)
    return await svc.storage.presigned_url(
        key, expires_s=max(1, expires - int(now_s())), filename=filename
    )


def has_preview(export: Export) -> bool:
    plan = export_plan(export)
    return plan is not None and playable_chunks(export, plan) > 0


async def media_links(svc: Services, export: Export) -> shapes.MediaLinks:
    """The export's preview, poster and video URLs as they stand now (null: not yet)."""
    expires = expiry(svc.settings)
    signer = url_signer(svc.settings)
    preview = signer.sign(preview_path(export.id), expires) if has_preview(export) else None
    poster = None
    if export.poster_key and ExportStatus(export.status) != ExportStatus.CANCELLED:
        poster = await stored_url(svc, export.poster_key, poster_path(export.id), expires)
    video = None
    if ExportStatus(export.status) == ExportStatus.COMPLETED and export.video_key:
        video = await stored_url(
            svc, export.video_key, video_path(export.id), expires, filename=f"{export.id}.mp4"
        )
    return shapes.MediaLinks.model_construct(
        preview_url=preview,
        poster_url=poster,
        video_url=video,
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


async def export_answer(svc: Services, export: Export) -> shapes.Export:
    """An export as the API answers it, with its signed preview and poster URLs."""
    return shapes.Export.of(export, await media_links(svc, export))
