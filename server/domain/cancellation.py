"""The cancel signal: a Redis key the API sets and render workers poll between frames.

The database status (``cancelling``) is the record; the key is the fast path a worker can
check many times a second without touching the database.
"""

from __future__ import annotations

import redis
import redis.asyncio

#: How long a cancel request outlives its export's last message (seconds).
CANCEL_KEY_TTL_S = 24 * 3600


def cancel_key(export_id: str) -> str:
    return f"reelay:cancel:{export_id}"


async def request_cancel(client: redis.asyncio.Redis, export_id: str) -> None:
    """Ask every worker touching ``export_id`` to stop at its next check."""
    await client.set(cancel_key(export_id), "1", ex=CANCEL_KEY_TTL_S)


async def clear_cancel(client: redis.asyncio.Redis, export_id: str) -> None:
    """Forget an old cancel request, so a retried export is not stopped by it."""
    await client.delete(cancel_key(export_id))


def is_cancel_requested(client: redis.Redis, export_id: str) -> bool:
    """Blocking check, for render threads (they run off the event loop)."""
    return bool(client.exists(cancel_key(export_id)))
