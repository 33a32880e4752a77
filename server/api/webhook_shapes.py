"""The JSON shape of webhook endpoints and deliveries, and their JSON Schemas beside them.

``/openapi.json`` publishes ``COMPONENTS`` (merged with the API's own) so the document and
the answers agree.
"""

from __future__ import annotations

from typing import Any

from server.api.schemas import iso, nullable_schema, obj_schema, ref_schema
from server.domain.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from server.domain.notifications import WEBHOOK_EVENT_TYPES


def endpoint_json(endpoint: WebhookEndpoint, *, secret: bool = False) -> dict[str, Any]:
    """An endpoint; the secret only when just created (it is shown once)."""
    body: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events),
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": iso(endpoint.created_at),
    }
    if secret:
        body["secret"] = endpoint.secret
    return body


def attempt_json(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "manual": attempt.manual,
        "success": attempt.success,
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "response": attempt.response_snippet,
        "error": attempt.error,
        "created_at": iso(attempt.created_at),
    }


def delivery_json(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> dict[str, Any]:
    """A delivery with its attempt log, oldest attempt first."""
    return {
        "id": delivery.id,
        "webhook_id": delivery.endpoint_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "status": DeliveryStatus(delivery.status).value,
        "attempt_count": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "created_at": iso(delivery.created_at),
        "attempts": [attempt_json(a) for a in sorted(attempts, key=lambda a: a.number)],
    }


_STR = {"type": "string"}
_TIME = {"type": "string", "format": "date-time"}
_EVENTS = {
    "type": "array",
    "items": {"type": "string", "enum": list(WEBHOOK_EVENT_TYPES)},
    "minItems": 1,
    "uniqueItems": True,
}
_ENDPOINT_PROPS: dict[str, Any] = {
    "id": _STR,
    "url": {"type": "string", "format": "uri"},
    "description": _STR,
    "events": _EVENTS,
    "enabled": {"type": "boolean"},
    "disabled_reason": nullable_schema({"type": "string", "enum": ["gone", "failing"]}),
    "created_at": _TIME,
}
_ATTEMPT_PROPS: dict[str, Any] = {
    "number": {"type": "integer", "minimum": 1},
    "manual": {"type": "boolean"},
    "success": {"type": "boolean"},
    "status_code": nullable_schema({"type": "integer"}),
    "duration_ms": {"type": "number", "minimum": 0},
    "response": _STR,
    "error": nullable_schema(_STR),
    "created_at": _TIME,
}
_DELIVERY_PROPS: dict[str, Any] = {
    "id": _STR,
    "webhook_id": _STR,
    "event_id": _STR,
    "event_type": _STR,
    "status": {"type": "string", "enum": [s.value for s in DeliveryStatus]},
    "attempt_count": {"type": "integer", "minimum": 0},
    "next_attempt_at": nullable_schema(_TIME),
    "created_at": _TIME,
    "attempts": {"type": "array", "items": ref_schema("WebhookAttempt")},
}

MAX_DESCRIPTION_CHARS = 255

COMPONENTS: dict[str, Any] = {
    "Webhook": obj_schema(list(_ENDPOINT_PROPS), _ENDPOINT_PROPS),
    "WebhookCreated": obj_schema(
        [*_ENDPOINT_PROPS, "secret"],
        {**_ENDPOINT_PROPS, "secret": {"type": "string", "pattern": "^whsec_"}},
    ),
    "WebhookList": obj_schema(
        ["webhooks"], {"webhooks": {"type": "array", "items": ref_schema("Webhook")}}
    ),
    "WebhookAttempt": obj_schema(list(_ATTEMPT_PROPS), _ATTEMPT_PROPS),
    "WebhookDelivery": obj_schema(list(_DELIVERY_PROPS), _DELIVERY_PROPS),
    "WebhookDeliveryList": obj_schema(
        ["deliveries"], {"deliveries": {"type": "array", "items": ref_schema("WebhookDelivery")}}
    ),
    "WebhookCreate": obj_schema(
        ["url"],
        {
            "url": {"type": "string", "format": "uri", "maxLength": 2048},
            "events": _EVENTS,
            "description": {"type": "string", "maxLength": MAX_DESCRIPTION_CHARS},
        },
    ),
    "WebhookUpdate": obj_schema(
        [],
        {
            "url": {"type": "string", "format": "uri", "maxLength": 2048},
            "events": _EVENTS,
            "description": {"type": "string", "maxLength": MAX_DESCRIPTION_CHARS},
            "enabled": {"type": "boolean"},
        },
    ),
}
