"""Webhook endpoints: register (secret shown once), list, change, delete, test, and the
delivery log with replay.

Routes validate and shape answers; URLs go through the SSRF guard here and again before
every delivery. Attempts are only ever queued — the request never waits on a receiver.
"""

from __future__ import annotations

from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response

from server.adapters.auth import User
from server.adapters.delivery.signing import new_secret
from server.adapters.delivery.ssrf import (
    MAX_URL_CHARS,
    Resolver,
    UnsafeUrl,
    check_url,
    system_resolver,
)
from server.api.webhook_shapes import MAX_DESCRIPTION_CHARS, delivery_json, endpoint_json
from server.clock import utcnow
from server.domain.events import TERMINAL_EVENT_TYPES, Event, format_ts, new_event_id
from server.domain.limits import WEBHOOK_ENDPOINTS_LIMIT, check_webhook_endpoints, user_limit_lock
from server.domain.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    new_id,
)
from server.domain.notifications import WEBHOOK_EVENT_TYPES
from server.domain.webhook_delivery import enqueue_attempt
from server.errors import Conflict, ValidationFailed
from server.http.access import owned
from server.http.fields import boolean, invalid, query_int, read_json, string
from server.http.responses import JSONResponse
from server.http.routing import ApiRoute, Operation, Query
from server.http.services import current_user, services

TEST_EVENT_TYPE = "webhook.test"
#: Terminal events: what an endpoint gets when it does not say.
DEFAULT_EVENTS = sorted(TERMINAL_EVENT_TYPES)


def _resolver(request: Request) -> Resolver:
    """The DNS resolver for URL checks; tests put their own on ``app.state``."""
    return cast(Resolver, getattr(request.app.state, "webhook_resolver", system_resolver))


async def _checked_url(request: Request, url: str) -> str:
    settings = services(request).settings
    try:
        await check_url(
            url, allow_private=settings.webhooks_allow_private, resolver=_resolver(request)
        )
    except UnsafeUrl as exc:
        raise ValidationFailed(f"url: {exc.message}", code=exc.code) from exc
    return url


def _events(body: dict[str, Any], default: list[str] | None) -> list[str]:
    """The subscribed types; ``default`` when absent or null (required when it is None)."""
    value = body.get("events")
    if value is None and default is not None:
        return list(default)
    if not isinstance(value, list) or not value:
        raise invalid("events", "must be a non-empty array of event types")
    for index, item in enumerate(value):
        if item not in WEBHOOK_EVENT_TYPES:
            raise invalid(f"events[{index}]", f"must be one of {', '.join(WEBHOOK_EVENT_TYPES)}")
    if len(set(value)) != len(value):
        raise invalid("events", "must not repeat a type")
    return list(value)


async def _endpoint(request: Request, user: User) -> WebhookEndpoint:
    return await owned(WebhookEndpoint, request.path_params["webhook_id"], user)


async def create_webhook(request: Request) -> Response:
    """Register an endpoint; the answer carries its signing secret, shown this once."""
    user = current_user(request)
    body = await read_json(request)
    url = string(body, "url", max_length=MAX_URL_CHARS, min_length=1)
    assert url is not None  # required
    events = _events(body, DEFAULT_EVENTS)
    description = string(body, "description", default="", max_length=MAX_DESCRIPTION_CHARS)
    await _checked_url(request, url)
    async with user_limit_lock(user.id, WEBHOOK_ENDPOINTS_LIMIT) as connection:
        await check_webhook_endpoints(connection, user.id)
        endpoint = await WebhookEndpoint.create(
            id=new_id("whk"),
            user_id=user.id,
            url=url,
            description=description or "",
            events=events,
            secret=new_secret(),
            using_db=connection,
        )
    return JSONResponse(endpoint_json(endpoint, secret=True), status_code=201)


async def list_webhooks(request: Request) -> Response:
    user = current_user(request)
    endpoints = await WebhookEndpoint.filter(user_id=user.id).order_by("created_at", "id")
    return JSONResponse({"webhooks": [endpoint_json(e) for e in endpoints]})


async def get_webhook(request: Request) -> Response:
    return JSONResponse(endpoint_json(await _endpoint(request, current_user(request))))


async def update_webhook(request: Request) -> Response:
    """Change the URL, events or description, or enable/disable; enabling forgets failures."""
    endpoint = await _endpoint(request, current_user(request))
    body = await read_json(request)
    changes: dict[str, Any] = {}
    if "url" in body:
        url = string(body, "url", max_length=MAX_URL_CHARS, min_length=1)
        changes["url"] = await _checked_url(request, str(url))
    if "events" in body:
        changes["events"] = _events(body, None)
    if "description" in body:
        changes["description"] = string(
            body, "description", default="", max_length=MAX_DESCRIPTION_CHARS
        )
    if "enabled" in body:
        enabled = boolean(body, "enabled", default=True)
        changes["enabled"] = enabled
        if enabled and not endpoint.enabled:
            changes.update(disabled_reason=None, failing_since=None)
    if changes:
        await WebhookEndpoint.filter(id=endpoint.id).update(**changes)
        await endpoint.refresh_from_db()
    return JSONResponse(endpoint_json(endpoint))


async def delete_webhook(request: Request) -> Response:
    """Forget the endpoint and its delivery log; queued attempts then find nothing to do."""
    endpoint = await _endpoint(request, current_user(request))
    await endpoint.delete()
    return Response(status_code=204)


def _require_enabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        raise Conflict(
            f"webhook {endpoint.id} is disabled ({endpoint.disabled_reason or 'by you'}); "
            "enable it first",
            code="webhook_disabled",
        )


async def send_test_event(request: Request) -> Response:
    """Queue one signed ``webhook.test`` event to the endpoint (a single attempt)."""
    user = current_user(request)
    endpoint = await _endpoint(request, user)
    _require_enabled(endpoint)
    event = Event(
        id=new_event_id(),
        seq=0,
        type=TEST_EVENT_TYPE,
        project_id="",
        export_id=None,
        batch_id=None,
        ts=format_ts(utcnow()),
        data={"webhook_id": endpoint.id, "message": "a test delivery from reelay"},
    )
    delivery = await WebhookDelivery.create(
        id=new_id("whd"),
        user_id=user.id,
        endpoint_id=endpoint.id,
        event_id=event.id,
        event_type=event.type,
        payload=event.to_json(),
    )
    await enqueue_attempt(services(request).enqueuer, delivery.id, 1, manual=True)
    return JSONResponse(delivery_json(delivery, []), status_code=202)


async def list_deliveries(request: Request) -> Response:
    """The endpoint's deliveries, newest first, each with its attempt log."""
    endpoint = await _endpoint(request, current_user(request))
    limit = query_int(request, "limit", default=50, minimum=1, maximum=200)
    deliveries = (
        await WebhookDelivery.filter(endpoint_id=endpoint.id)
        .order_by("-created_at", "-id")
        .limit(limit)
    )
    attempts = await WebhookAttempt.filter(delivery_id__in=[d.id for d in deliveries])
    by_delivery: dict[str, list[WebhookAttempt]] = {}
    for attempt in attempts:
        by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
    return JSONResponse(
        {"deliveries": [delivery_json(d, by_delivery.get(d.id, [])) for d in deliveries]}
    )


async def retry_delivery(request: Request) -> Response:
    """Send a settled delivery again now, same body and ``webhook-id`` (one attempt)."""
    user = current_user(request)
    endpoint = await _endpoint(request, user)
    delivery = await owned(
        WebhookDelivery, request.path_params["delivery_id"], user, endpoint_id=endpoint.id
    )
    _require_enabled(endpoint)
    settled = [DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED]
    if not await WebhookDelivery.filter(
        id=delivery.id, status__in=settled, attempts=delivery.attempts
    ).update(status=DeliveryStatus.PENDING, next_attempt_at=None):
        raise Conflict(
            "the delivery is still being attempted; wait for it to settle",
            code="delivery_pending",
        )
    await enqueue_attempt(
        services(request).enqueuer, delivery.id, delivery.attempts + 1, manual=True
    )
    await delivery.refresh_from_db()
    attempts = await WebhookAttempt.filter(delivery_id=delivery.id)
    return JSONResponse(delivery_json(delivery, list(attempts)), status_code=202)


_TAGS = ("webhooks",)
_ONE = "/webhooks/{webhook_id}"

routes = [
    ApiRoute(
        "/webhooks",
        create_webhook,
        "POST",
        Operation(
            "Register a webhook endpoint (the secret is shown once)",
            201,
            "WebhookCreated",
            body="WebhookCreate",
            errors=(400, 413, 422),
            tags=_TAGS,
        ),
    ),
    ApiRoute(
        "/webhooks",
        list_webhooks,
        "GET",
        Operation("Your webhook endpoints", 200, "WebhookList", tags=_TAGS),
    ),
    ApiRoute(
        _ONE,
        get_webhook,
        "GET",
        Operation("One webhook endpoint", 200, "Webhook", errors=(404,), tags=_TAGS),
    ),
    ApiRoute(
        _ONE,
        update_webhook,
        "PATCH",
        Operation(
            "Change or enable/disable a webhook endpoint",
            200,
            "Webhook",
            body="WebhookUpdate",
            errors=(400, 404, 413, 422),
            tags=_TAGS,
        ),
    ),
    ApiRoute(
        _ONE,
        delete_webhook,
        "DELETE",
        Operation("Delete a webhook endpoint and its log", 204, errors=(404,), tags=_TAGS),
    ),
    ApiRoute(
        _ONE + "/test",
        send_test_event,
        "POST",
        Operation(
            "Send a signed test event", 202, "WebhookDelivery", errors=(404, 409), tags=_TAGS
        ),
    ),
    ApiRoute(
        _ONE + "/deliveries",
        list_deliveries,
        "GET",
        Operation(
            "Deliveries and their attempts, newest first",
            200,
            "WebhookDeliveryList",
            errors=(400, 404),
            query=(Query("limit", "How many deliveries (newest first)", 1, 200, 50),),
            tags=_TAGS,
        ),
    ),
    ApiRoute(
        _ONE + "/deliveries/{delivery_id}/retry",
        retry_delivery,
        "POST",
        Operation(
            "Send a delivery again (same webhook-id)",
            202,
            "WebhookDelivery",
            errors=(404, 409),
            tags=_TAGS,
        ),
    ),
]
