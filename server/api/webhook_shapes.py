"""The JSON bodies of webhook endpoints and their deliveries, each declared once as a model
that validates, shapes and documents it."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field

from server.adapters.delivery.ssrf import MAX_URL_CHARS
from server.domain import models
from server.domain.models import DeliveryStatus
from server.domain.notifications import WEBHOOK_EVENT_TYPES
from server.http.shapes import Body, Distinct, Shape, Text, Timestamp

MAX_DESCRIPTION_CHARS = 255

#: One of the event types an endpoint can subscribe to.
WebhookEventType = Literal[WEBHOOK_EVENT_TYPES]  # type: ignore[valid-type]
EventTypes = Annotated[list[WebhookEventType], Field(min_length=1), Distinct("a type")]
Url = Annotated[
    Text, Field(min_length=1, max_length=MAX_URL_CHARS, json_schema_extra={"format": "uri"})
]
Description = Annotated[Text, Field(max_length=MAX_DESCRIPTION_CHARS)]


class Webhook(Shape):
    id: str
    url: str
    description: str
    events: EventTypes
    enabled: bool
    disabled_reason: Literal["gone", "failing"] | None
    created_at: Timestamp


class WebhookCreated(Webhook):
    """An endpoint just registered: the only answer that shows its signing secret."""

    secret: Annotated[str, Field(pattern="^whsec_")]


class WebhookList(Shape):
    webhooks: list[Webhook]


class WebhookAttempt(Shape):
    number: Annotated[int, Field(ge=1)]
    manual: bool
    success: bool
    status_code: int | None
    duration_ms: Annotated[float, Field(ge=0)]
    response: str
    error: str | None
    created_at: Timestamp

    @classmethod
    def of(cls, row: models.WebhookAttempt) -> Self:
        return cls.from_row(row, response=row.response_snippet)


class WebhookDelivery(Shape):
    """A delivery with its attempt log, oldest attempt first."""

    id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempt_count: Annotated[int, Field(ge=0)]
    next_attempt_at: Timestamp | None
    created_at: Timestamp
    attempts: list[WebhookAttempt]

    @classmethod
    def of(cls, row: models.WebhookDelivery, attempts: list[models.WebhookAttempt]) -> Self:
        return cls.from_row(
            row,
            webhook_id=row.endpoint_id,
            status=DeliveryStatus(row.status),
            attempt_count=row.attempts,
            attempts=[WebhookAttempt.of(a) for a in sorted(attempts, key=lambda a: a.number)],
        )


class WebhookDeliveryList(Shape):
    deliveries: list[WebhookDelivery]


class WebhookCreate(Body):
    """``events`` absent or null: the terminal events (``server.api.webhooks``)."""

    url: Url
    events: EventTypes | None = None
    description: Description = ""


class WebhookUpdate(Body):
    """Only the fields sent change (``model_fields_set``); none of them may be null."""

    url: Url = Field(default_factory=str)
    events: EventTypes = Field(default_factory=list)
    description: Description = ""
    enabled: bool = True
