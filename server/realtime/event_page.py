"""The JSON page of events polling answers, declared once as models (``/openapi.json``
publishes them; ``events_route`` answers with them)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from server.domain.events import Event as StoredEvent
from server.http.shapes import Shape


class Event(Shape):
    """One event, exactly as every transport carries it."""

    id: str
    seq: Annotated[int, Field(ge=1)]
    type: str
    project_id: str
    export_id: str | None
    batch_id: str | None
    ts: Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
    data: dict[str, Any]

    @classmethod
    def of(cls, event: StoredEvent) -> Event:
        return cls.model_construct(**event.to_dict())


class EventPage(Shape):
    """Events after the cursor, oldest first; ``reset`` only when the cursor is too old."""

    events: list[Event]
    last_seq: Annotated[int, Field(ge=0)]
    reset: bool = False
