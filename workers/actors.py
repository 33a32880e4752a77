"""Declaring an actor on an explicit broker: one way for every reelay actor.

Actors are registered by name on the queue ``server.adapters.queue.ACTOR_QUEUES`` assigns, so the
web side can send to them by name without importing worker code, and no global broker
is created at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dramatiq

from server.adapters.queue import ACTOR_QUEUES


@dataclass(frozen=True)
class RetryPolicy:
    """Dramatiq's time limit and retry backoff for one actor, in milliseconds."""

    time_limit_ms: int
    max_retries: int
    min_backoff_ms: int = 1_000
    max_backoff_ms: int = 60_000


def declare_actor(
    broker: dramatiq.Broker, name: str, fn: Callable[..., None], policy: RetryPolicy
) -> None:
    """Register ``fn`` as actor ``name`` on ``broker``; raises KeyError for an unknown name."""
    dramatiq.Actor(
        fn,
        broker=broker,
        actor_name=name,
        queue_name=ACTOR_QUEUES[name],
        priority=0,
        options={
            "time_limit": policy.time_limit_ms,
            "max_retries": policy.max_retries,
            "min_backoff": policy.min_backoff_ms,
            "max_backoff": policy.max_backoff_ms,
        },
    )
