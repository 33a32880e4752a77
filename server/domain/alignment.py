"""Word alignment of a moment: the actor's name, the captions it writes and the events that
announce it (``moment.aligned`` / ``moment.align_failed`` on the project's event log)."""

from __future__ import annotations

from typing import Any

from server.adapters.queue import Enqueuer
from server.domain.events import EventLog
from server.domain.models import Moment
from server.domain.notifications import notify

ALIGN_ACTOR = "align_moment"

#: ``moment.align_failed`` codes.
NO_SPEECH_CODE = "no_speech"
ALIGN_FAILED_CODE = "align_failed"
NO_AUDIO_CODE = "no_audio"


async def announce_aligned(
    events: EventLog,
    enqueuer: Enqueuer,
    moment: Moment,
    captions: list[dict[str, Any]],
    *,
    mean_confidence: float,
    method: str,
) -> None:
    """Store the timed captions on the moment, then append and publish ``moment.aligned``."""
    await Moment.filter(id=moment.id).update(captions=captions)
    words = sum(len(c.get("words") or ()) for c in captions)
    event = await events.append(
        moment.project_id,
        "moment.aligned",
        data={
            "moment_id": moment.id,
            "words": words,
            "captions": len(captions),
            "mean_confidence": round(mean_confidence, 3),
            "method": method,
        },
    )
    await notify(enqueuer, event)


async def announce_failed(
    events: EventLog, enqueuer: Enqueuer, moment: Moment, code: str, message: str
) -> None:
    event = await events.append(
        moment.project_id,
        "moment.align_failed",
        data={"moment_id": moment.id, "code": code, "message": message},
    )
    await notify(enqueuer, event)
