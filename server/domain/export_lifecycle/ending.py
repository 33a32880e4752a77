"""The end of an export attempt: its terminal event once, its pieces tidied, its batch ended."""

from __future__ import annotations

from typing import Any

from server.domain.batch_completion import complete_batch_if_done
from server.domain.events import end_event_id
from server.domain.models import Export, ExportStatus
from server.domain.notifications import notify
from server.domain.storage_keys import chunk_prefix, video_url

from .effects import Effects
from .preview import remove_preview


def end_event(export: Export) -> tuple[str, dict[str, Any]]:
    """The terminal event an ended export owes its subscribers, built from its row."""
    status = ExportStatus(export.status)
    if status is ExportStatus.COMPLETED:
        return "export.completed", {
            "video_url": video_url(export.id),
            "size_bytes": export.size_bytes,
            "duration_s": export.duration_s,
            "width": export.width,
            "height": export.height,
            "progress": 1.0,
        }
    if status is ExportStatus.FAILED:
        return "export.failed", {"code": export.error_code, "message": export.error_message}
    return "export.cancelled", {"progress": export.progress}


async def announce_end(fx: Effects, export_id: str, attempt: int) -> None:
    """Emit the terminal event of attempt ``attempt`` once, tidy its pieces, end its batch.

    Safe to call again for the same end (a worker killed between the database update and
    the event redoes it on redelivery): the event id is stable per attempt and appended
    once, so subscribers never see a terminal event twice — nor miss it. Once the row
    belongs to a later attempt (a retry), nothing is done: the retry announced this
    attempt's end before it started the next, and the next attempt's files and event id
    are not this caller's to touch.
    """
    export = await Export.get(id=export_id)
    if export.attempt != attempt or not ExportStatus(export.status).is_terminal:
        return
    type_, data = end_event(export)
    event = await fx.events.append_once(
        export.project_id,
        type_,
        event_id=end_event_id(export.id, export.attempt),
        export_id=export.id,
        batch_id=export.batch_id,
        data=data,
    )
    if event is not None:
        await notify(fx.enqueuer, event)
    if export.status != ExportStatus.FAILED:  # a failed export keeps its chunks for a retry
        await fx.storage.delete_prefix(chunk_prefix(export.id))
    if export.status == ExportStatus.CANCELLED:  # a completed one keeps its preview a while
        await remove_preview(fx, export.id, with_poster=True)
    await complete_batch_if_done(fx.events, fx.enqueuer, export.batch_id)
