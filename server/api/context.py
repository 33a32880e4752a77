"""What a route needs from the running app: its services, the caller, and owned rows.

One ownership check (``owned``) serves every route: another user's object is reported
exactly like a missing one, so IDs never leak whether something exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar, cast

import redis.asyncio
from dramatiq.brokers.redis import RedisBroker
from starlette.requests import HTTPConnection
from tortoise.models import Model

from server.api.schemas import MAX_ID_CHARS
from server.auth import TokenVerifier, User
from server.errors import NotFound, echo
from server.events import EventLog
from server.queue import Enqueuer
from server.settings import Settings
from server.storage import Storage

#: scope key where the auth middleware leaves the verified caller.
USER_SCOPE_KEY = "reelay.user"


@dataclass(frozen=True)
class Services:
    """Everything the lifespan opened; lives on ``app.state.services`` (and per attribute)."""

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


M = TypeVar("M", bound=Model)


async def owned(model: type[M], object_id: str, user: User, **related: Any) -> M:
    """The row ``object_id`` of ``model`` if ``user`` owns it, else 404 ``not_found``."""
    row = None
    if len(object_id) <= MAX_ID_CHARS:
        row = await model.filter(id=object_id, user_id=user.id, **related).first()
    if row is None:
        raise NotFound(f"no {model.__name__.lower()} {echo(object_id)}")
    return row
