"""Webhook endpoints: register (secret shown once), list, change, delete, test, and the
delivery log with replay.

Routes validate and shape answers; URLs go through the SSRF guard here and again before
every delivery. Attempts are only ever queued — the request never waits on a receiver.
"""

from __future__ import annotations

from typing import cast

from starlette.requests import Request
from starlette.responses import Response

from server.adapters.auth import User
from server.adapters.delivery.signing import new_secret
from server.adapters.delivery.ssrf import (
    Resolver,
    UnsafeUrl,
    check_url,
    system_resolver,
)
from server.api import webhook_shapes as shapes
from server.api.webhook_shapes import WebhookCreate, WebhookUpdate
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
from server.domain.webhook_delivery import enqueue_attempt
from server.errors import Conflict, ValidationFailed
from server.http.access import owned
from server.http.fields import query_int, read_body
from server.http.routing import ID, Link, Query, Routes, link, member
from server.http.services import current_user, services
from server.http.shapes import answer

TEST_EVENT_TYPE = "webhook.test"
#: Terminal events: what an endpoint gets when it does not say.
DEFAULT_EVENTS = sorted(TERMINAL_EVENT_TYPES)

routes = Routes("webhooks")
_ONE = "/webhooks/{webhook_id}"


def _next(webhook_id: str) -> tuple[Link, ...]:
    """What an endpoint's answer leads to (``webhook_id`` is where its ID is)."""
    operations = ("get_webhook", "update_webhook", "send_test_event", "list_deliveries")
    return (
        *(link(operation, webhook_id=webhook_id) for operation in operations),
        link("delete_webhook", webhook_id=webhook_id),
    )


_DELIVERY_NEXT = (
    link("retry_delivery", webhook_id=member("/webhook_id"), delivery_id=ID),
    link("list_deliveries", webhook_id=member("/webhook_id")),
)


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


async def _endpoint(request: Request, user: User) -> WebhookEndpoint:
    return await owned(WebhookEndpoint, request.path_params["webhook_id"], user)


@routes.post(
    "/webhooks",
    "Register a webhook endpoint (the secret is shown once)",
    201,
    shapes.WebhookCreated,
    body=WebhookCreate,
    errors=(400, 413, 422),
    links=_next(ID),
)
async def create_webhook(request: Request) -> Response:
    """Register an endpoint; the answer carries its signing secret, shown this once."""
    user = current_user(request)
    asked = await read_body(request, WebhookCreate)
    await _checked_url(request, asked.url)
    async with user_limit_lock(user.id, WEBHOOK_ENDPOINTS_LIMIT) as connection:
        await check_webhook_endpoints(connection, user.id)
        endpoint = await WebhookEndpoint.create(
            id=new_id("whk"),
            user_id=user.id,
            url=asked.url,
            description=asked.description,
            events=list(asked.events or DEFAULT_EVENTS),
            secret=new_secret(),
            using_db=connection,
        )
    return answer(shapes.WebhookCreated.from_row(endpoint), 201)


@routes.get("/webhooks", "Your webhook endpoints", 200, shapes.WebhookList)
async def list_webhooks(request: Request) -> Response:
    user = current_user(request)
    endpoints = await WebhookEndpoint.filter(user_id=user.id).order_by("created_at", "id")
    return answer(shapes.WebhookList(webhooks=[shapes.Webhook.from_row(e) for e in endpoints]))


@routes.get(_ONE, "One webhook endpoint", 200, shapes.Webhook, errors=(404,))
async def get_webhook(request: Request) -> Response:
    return answer(shapes.Webhook.from_row(await _endpoint(request, current_user(request))))


@routes.patch(
    _ONE,
    "Change or enable/disable a webhook endpoint",
    200,
    shapes.Webhook,
    body=WebhookUpdate,
    errors=(400, 404, 413, 422),
    links=_next(ID),
)
async def update_webhook(request: Request) -> Response:
    """Change the URL, events or description, or enable/disable; enabling forgets failures."""
    endpoint = await _endpoint(request, current_user(request))
    asked = await read_body(request, WebhookUpdate)
    changes = asked.model_dump(include=asked.model_fields_set)
    if "url" in changes:
        await _checked_url(request, asked.url)
    if asked.enabled and "enabled" in changes and not endpoint.enabled:
        changes.update(disabled_reason=None, failing_since=None)
    if changes:
        await WebhookEndpoint.filter(id=endpoint.id).update(**changes)
        await endpoint.refresh_from_db()
    return answer(shapes.Webhook.from_row(endpoint))


@routes.delete(_ONE, "Delete a webhook endpoint and its log", 204, errors=(404,))
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


@routes.post(
    _ONE + "/test",
    "Send a signed test event",
    202,
    shapes.WebhookDelivery,
    errors=(404, 409),
    links=_DELIVERY_NEXT,
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
    return answer(shapes.WebhookDelivery.of(delivery, []), 202)


@routes.get(
    _ONE + "/deliveries",
    "Deliveries and their attempts, newest first",
    200,
    shapes.WebhookDeliveryList,
    errors=(400, 404),
    query=(Query("limit", "How many deliveries (newest first)", 1, 200, 50),),
)
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
    return answer(
        shapes.WebhookDeliveryList(
            deliveries=[shapes.WebhookDelivery.of(d, by_delivery.get(d.id, [])) for d in deliveries]
        )
    )


@routes.post(
    _ONE + "/deliveries/{delivery_id}/retry",
    "Send a delivery again (same webhook-id)",
    202,
    shapes.WebhookDelivery,
    errors=(404, 409),
    links=_DELIVERY_NEXT,
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
    return answer(shapes.WebhookDelivery.of(delivery, list(attempts)), 202)
