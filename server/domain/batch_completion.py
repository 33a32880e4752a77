"""A batch's end: ``batch.completed`` once, when its last export reaches a terminal state.

The API (cancelling an unstarted export) and the workers (every other ending) both call
this, and a worker redoing an end after a crash calls it again: the event id is stable
for one way the batch ended, and the log appends an id once, so it is never doubled.
``completed_notified`` records that the batch ended (a retry clears it).
"""

from __future__ import annotations

from server.adapters.queue import Enqueuer
from server.domain.events import EventLog
from server.domain.models import Batch, Export, ExportStatus
from server.domain.notifications import notify


async def complete_batch_if_done(events: EventLog, enqueuer: Enqueuer, batch_id: str) -> None:
    """Emit ``batch.completed`` with per-status counts if every export of the batch ended."""
    exports = await Export.filter(batch_id=batch_id).order_by("created_at", "id")
    if not exports or any(not ExportStatus(e.status).is_terminal for e in exports):
        return
    await Batch.filter(id=batch_id, completed_notified=False).update(completed_notified=True)
    counts = {status.value: 0 for status in ExportStatus if status.is_terminal}
    for export in exports:
        counts[ExportStatus(export.status).value] += 1
    # One event per way the batch ended: a retried export that ends again ends it anew.
    generation = sum(e.attempt for e in exports)
    event = await events.append_once(
        exports[0].project_id,
        "batch.completed",
        event_id=f"evt_{batch_id}_g{generation}_end",
        batch_id=batch_id,
        data={"export_ids": [e.id for e in exports], "counts": counts},
    )
    if event is not None:
        await notify(enqueuer, event)
