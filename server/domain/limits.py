"""Limits that protect the service from one caller: source size and shape, active exports.

Each limit is a setting; each refusal names the limit so a client can tell what to change.
Body-size limits live where bodies are read (``api/uploads.py``, ``http/fields.py``).

Per-user limits are counted and written in one transaction that holds ``user_limit_lock``,
so parallel requests (in any number of web processes) cannot all count the same free slot.
A slot is an active row, so it comes back by itself when the row ends or is deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator

import av
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server.domain.models import ACTIVE_STATUSES, Export, WebhookEndpoint
from server.errors import ApiError, ValidationFailed
from server.settings import Settings
from workers.render.spec import SourceInfo

#: ``user_limit_lock`` names, one per per-user limit.
ACTIVE_EXPORTS_LIMIT = "active_exports"
WEBHOOK_ENDPOINTS_LIMIT = "webhook_endpoints"

#: First key of PostgreSQL's two-key advisory locks taken by ``user_limit_lock`` ("rlim");
#: the two-key space is apart from the one-key migration lock in ``server.adapters.db``.
PG_LIMIT_LOCK_CLASS = 0x726C696D

#: Webhook endpoints one user may register (enabled or not).
MAX_WEBHOOKS_PER_USER = 20

#: Seconds a client is told to wait after hitting the active-exports limit.
ACTIVE_EXPORTS_RETRY_AFTER_S = 30


class TooManyActiveExports(ApiError):
    """The user's queued, running and cancelling exports are at the limit (→ 429)."""

    status, code = 429, "too_many_active_exports"


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


def _pg_lock_key(user_id: str, name: str) -> int:
    """A signed 32-bit key for ``(name, user_id)``; a collision only makes two users wait
    for each other, never lets one exceed a limit."""
    digest = hashlib.blake2b(f"{name}\0{user_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextlib.asynccontextmanager
async def user_limit_lock(user_id: str, name: str) -> AsyncIterator[BaseDBAsyncClient]:
    """A transaction no other holder of ``name`` for ``user_id`` overlaps: count, then write.

    PostgreSQL: a transaction-scoped advisory lock per user and limit (released on commit
    or rollback). SQLite: a first write takes the database's write lock, which every
    process shares, before anything is read — a read-then-upgrade could interleave.
    """
    async with in_transaction() as connection:
        if connection.capabilities.dialect == "postgres":
            await connection.execute_query(
                "SELECT pg_advisory_xact_lock($1, $2)",
                [PG_LIMIT_LOCK_CLASS, _pg_lock_key(user_id, name)],
            )
        else:
            await connection.execute_query('UPDATE "exports" SET "id" = "id" WHERE 0')
        yield connection


async def check_active_exports(
    connection: BaseDBAsyncClient, user_id: str, adding: int, settings: Settings
) -> None:
    """429 with ``Retry-After`` when ``adding`` more would exceed the user's active exports.

    Only meaningful inside ``user_limit_lock(user_id, ACTIVE_EXPORTS_LIMIT)``, with the
    write made on the same ``connection`` before it ends.
    """
    limit = settings.max_active_exports_per_user
    active = (
        await Export.filter(user_id=user_id, status__in=list(ACTIVE_STATUSES))
        .using_db(connection)
        .count()
    )
    if active + adding > limit:
        raise TooManyActiveExports(
            f"you have {active} exports in progress; at most {limit} may run at once",
            headers={"Retry-After": str(ACTIVE_EXPORTS_RETRY_AFTER_S)},
        )


async def check_webhook_endpoints(connection: BaseDBAsyncClient, user_id: str) -> None:
    """422 ``too_many_webhooks`` when the user already has ``MAX_WEBHOOKS_PER_USER``.

    Only meaningful inside ``user_limit_lock(user_id, WEBHOOK_ENDPOINTS_LIMIT)``.
    """
    count = await WebhookEndpoint.filter(user_id=user_id).using_db(connection).count()
    if count >= MAX_WEBHOOKS_PER_USER:
        raise ValidationFailed(
            f"you have {count} webhook endpoints; at most {MAX_WEBHOOKS_PER_USER} per user "
            "(delete one to add another)",
            code="too_many_webhooks",
        )
