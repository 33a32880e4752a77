"""A batch's end: ``batch.completed`` once, when its last export reaches a terminal state.

The API (cancelling an unstarted export) and the workers (every other ending) both call
this; the once-only flag ``completed_notified`` makes whichever side comes last emit it.
"""

from __future__ import annotations

from server.events import EventLog
from server.models import Batch, Export, ExportStatus
from server.notifications import notify
from server.queue import Enqueuer


async def complete_batch_if_done(events: EventLog, enqueuer: Enqueuer, batch_id: str) -> None:
    """Emit ``batch.completed`` with per-status counts if every export of the batch ended."""
    exports = await Export.filter(batch_id=batch_id).order_by("created_at", "id")
    if not exports or any(not ExportStatus(e.status).is_terminal for e in exports):
        return
    if not await Batch.filter(id=batch_id, completed_notified=False).update(
        completed_notified=True
    ):
        return
    counts = {status.value: 0 for status in ExportStatus if status.is_terminal}
    for export in exports:
        counts[ExportStatus(export.status).value] += 1
    event = await events.append(
        exports[0].project_id,
        "batch.completed",
        batch_id=batch_id,
        data={"export_ids": [e.id for e in exports], "counts": counts},
    )
    await notify(enqueuer, event)
