"""What a transition needs from the process running it, and the two moves every one makes.

A web process (``server.http.services.Services``) and a worker (``WorkerRuntime``) both
carry these connections, so the same transition runs in either without knowing which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import redis.asyncio
from tortoise.backends.base.client import BaseDBAsyncClient

from server.adapters.queue import Enqueuer
from server.adapters.storage import Storage
from server.domain.events import EventLog
from server.domain.models import Export, ExportStatus
from server.domain.notifications import notify
from server.settings import Settings


class Effects(Protocol):
    """The connections a transition writes through: events, queue, storage, Redis."""

    @property
    def settings(self) -> Settings: ...

    @property
    def events(self) -> EventLog: ...

    @property
    def enqueuer(self) -> Enqueuer: ...

    @property
    def storage(self) -> Storage: ...

    @property
    def redis(self) -> redis.asyncio.Redis: ...


async def update_if(
    export_id: str,
    allowed: Iterable[ExportStatus],
    *,
    of_attempt: int | None = None,
    where: Mapping[str, Any] | None = None,
    using_db: BaseDBAsyncClient | None = None,
    **changes: Any,
) -> bool:
    """``UPDATE … WHERE id AND status IN allowed`` (and ``attempt = of_attempt``, and
    ``where``): True when the row moved.

    Two racers (a redelivered message, a cancel against a completion) both try; exactly
    one update lands, and only its caller emits the event.
    """
    query = Export.filter(id=export_id, status__in=list(allowed))
    if of_attempt is not None:
        query = query.filter(attempt=of_attempt)
    if where:
        query = query.filter(**where)
    if using_db is not None:
        query = query.using_db(using_db)
    return await query.update(**changes) > 0


async def emit(fx: Effects, export: Export, type_: str, data: dict[str, Any]) -> None:
    """Append one event about ``export`` and hand it to the notifiers."""
    event = await fx.events.append(
        export.project_id, type_, export_id=export.id, batch_id=export.batch_id, data=data
    )
    await notify(fx.enqueuer, event)
