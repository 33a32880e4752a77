"""What a request handler needs from the running app: its services and the caller.

Shared by the HTTP routes (``server.api``) and the real-time endpoints
(``server.realtime``), so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis.asyncio
from dramatiq.brokers.redis import RedisBroker
from starlette.requests import HTTPConnection

from server.adapters.auth import TokenVerifier, User
from server.adapters.queue import Enqueuer
from server.adapters.storage import Storage
from server.domain.events import EventLog
from server.settings import Settings

#: scope key where the auth middleware leaves the verified caller.
USER_SCOPE_KEY = "reelay.user"


@dataclass(frozen=True)
class Services:
    """Everything the lifespan opened; lives on ``app.state.services``."""

    settings: Settings
    redis: redis.asyncio.Redis
    events: EventLog
    storage: Storage
    broker: RedisBroker
    enqueuer: Enqueuer
    verifier: TokenVerifier


def services(conn: HTTPConnection) -> Services:
    return cast(Services, conn.app.state.services)


def current_user(conn: HTTPConnection) -> User:
    """The caller verified by the auth middleware; every /api route has one."""
    user = conn.scope.get(USER_SCOPE_KEY)
    if not isinstance(user, User):
        raise RuntimeError("route reached without the auth middleware")
    return user
