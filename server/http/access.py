"""One ownership check for every route: another user's object is reported exactly like a
missing one, so IDs never leak whether something exists."""

from __future__ import annotations

from typing import Any, TypeVar

from tortoise.models import Model

from server.adapters.auth import User
from server.domain.models import MAX_ID_CHARS
from server.errors import NotFound, echo

M = TypeVar("M", bound=Model)


async def owned(model: type[M], object_id: str, user: User, **related: Any) -> M:
    """The row ``object_id`` of ``model`` if ``user`` owns it, else 404 ``not_found``."""
    row = None
    if len(object_id) <= MAX_ID_CHARS:
        row = await model.filter(id=object_id, user_id=user.id, **related).first()
    if row is None:
        raise NotFound(f"no {model.__name__.lower()} {echo(object_id)}")
    return row
