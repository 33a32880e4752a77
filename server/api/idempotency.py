"""``Idempotency-Key`` for POST /exports: the same key and body within 24 h replays the
first answer; the same key with another body is a 409.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, timedelta
from typing import Any

from starlette.requests import Request

from server.clock import utcnow
from server.domain.models import IdempotencyRecord
from server.errors import BadRequest, Conflict

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
MAX_KEY_CHARS = 255


def key_of(request: Request) -> str | None:
    """The request's key, or None; a present but empty/over-long key is a 400."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > MAX_KEY_CHARS:
        raise BadRequest(
            f"{HEADER}: must be 1 to {MAX_KEY_CHARS} characters", code="invalid_parameter"
        )
    return key


def request_hash(path: str, body: dict[str, Any]) -> str:
    """Fingerprint of what was asked: the target path and the canonical JSON body."""
    canonical = json.dumps({"path": path, "body": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def replay(user_id: str, key: str, fingerprint: str) -> dict[str, Any] | None:
    """The stored answer for this key, None if there is none (or it expired); 409 on reuse."""
    record = await IdempotencyRecord.filter(user_id=user_id, key=key).first()
    if record is None:
        return None
    created = record.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    if utcnow() - created > TTL:
        await IdempotencyRecord.filter(id=record.id).delete()
        return None
    if record.request_hash != fingerprint:
        raise Conflict(
            f"{HEADER} {key!r} was already used with a different request",
            code="idempotency_conflict",
        )
    response: dict[str, Any] = record.response
    return response


async def remember(user_id: str, key: str, fingerprint: str, response: dict[str, Any]) -> None:
    """Store the answer (inside the caller's transaction; a racing twin hits IntegrityError)."""
    await IdempotencyRecord.create(
        user_id=user_id, key=key, request_hash=fingerprint, response=response
    )


async def forget(user_id: str, key: str) -> None:
    """Drop a stored answer whose work could not be started, so the client may try again."""
    await IdempotencyRecord.filter(user_id=user_id, key=key).delete()
