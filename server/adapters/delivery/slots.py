"""Caps on webhook POSTs in flight, shared by every notifier process: a Redis semaphore.

An attempt takes one lease on its endpoint's set and one on its user's set in a single
Lua step (both or neither), so the caps hold however many processes deliver at once.
Leases carry their own expiry: a notifier killed mid-POST gives its slots back when the
lease runs out, with nobody left to release them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from server.adapters.redis_keys import webhook_endpoint_slots, webhook_user_slots
from server.settings import Settings

#: A lease outlives the attempt it covers: the URL check and the POST (bounded by the
#: webhook timeout) plus this margin for DNS and a busy event loop.
LEASE_MARGIN_S = 10.0

# KEYS: the sets to take a lease in. ARGV: lease token, lease ms, then one cap per key.
# Scores are expiry times in Redis's own clock, so processes need no synchronised clocks.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local lease_ms = tonumber(ARGV[2])
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now_ms)
  if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[2 + i]) then
    return 0
  end
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now_ms + lease_ms, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], lease_ms)
end
return 1
"""


@dataclass(frozen=True)
class Lease:
    """One slot held in each of ``keys`` until released or expired."""

    token: str
    keys: tuple[str, ...]


class DeliverySlots:
    """At most ``per_endpoint`` POSTs to one endpoint and ``per_user`` to one user's
    endpoints at once, across every process sharing ``redis``."""

    def __init__(self, redis: Redis, *, per_endpoint: int, per_user: int, lease_s: float):
        if per_endpoint < 1 or per_user < 1 or lease_s <= 0:
            raise ValueError("caps must be at least 1 and leases positive")
        self.redis = redis
        self.per_endpoint = per_endpoint
        self.per_user = per_user
        self.lease_ms = max(1, int(lease_s * 1000))
        self._acquire = redis.register_script(_ACQUIRE)

    async def acquire(self, endpoint_id: str, user_id: str) -> Lease | None:
        """A lease on both caps, or None when either is full (nothing is taken then)."""
        keys = (webhook_endpoint_slots(endpoint_id), webhook_user_slots(user_id))
        token = secrets.token_hex(8)
        args: list[str | int] = [token, self.lease_ms, self.per_endpoint, self.per_user]
        taken = await self._acquire(keys=list(keys), args=args)
        return Lease(token, keys) if int(taken) == 1 else None

    async def release(self, lease: Lease) -> None:
        """Give the slots back at once (an expired lease is already gone: a no-op)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in lease.keys:
                pipe.zrem(key, lease.token)
            await pipe.execute()


def slots_from_settings(redis: Redis, settings: Settings) -> DeliverySlots:
    """The caps ``settings`` configure, with leases sized to the webhook timeout."""
    return DeliverySlots(
        redis,
        per_endpoint=settings.webhook_max_in_flight_per_endpoint,
        per_user=settings.webhook_max_in_flight_per_user,
        lease_s=settings.webhook_timeout_s + LEASE_MARGIN_S,
    )
