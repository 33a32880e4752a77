"""Where a project's event seq continues when Redis has lost its counter and its log.

The database outlives Redis. Each time the event log finds neither for a project, the
project's ``event_epoch`` is bumped: the first time (a project's first event) seq starts
at 1; any later time Redis lost data, so seq continues from the current time in
milliseconds — past every seq issued before (no project emits an event per millisecond
for long) — and clients holding an old cursor see it fall before the log and reset.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tortoise.expressions import F

from server.domain.models import Project


async def seq_base(project_id: str, *, clock: Callable[[], float] = time.time) -> int:
    """The seq after which ``project_id``'s log continues (see the module docstring)."""
    await Project.filter(id=project_id).update(event_epoch=F("event_epoch") + 1)
    project = await Project.get_or_none(id=project_id).only("id", "event_epoch")
    if project is None or project.event_epoch <= 1:
        return 0
    return int(clock() * 1000)
