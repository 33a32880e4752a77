"""The /api/webhooks routes: the secret shown once, ownership, SSRF refusals at
registration (422), enable/disable, the test event, the delivery log and replay."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio

from server.adapters.delivery.slots import DeliverySlots
from server.domain.models import DeliveryStatus, WebhookDelivery
from server.domain.notifications import fan_out
from server.domain.webhook_delivery import attempt_delivery
from tests.api.conftest import Api, running_api
from tests.api.helpers import assert_error
from tests.conftest import SettingsFactory
from tests.webhooks.conftest import RecordingEnqueuer, make_project, resolver_for
from tests.webhooks.receiver import Receiver, Reply
from tests.webhooks.test_delivery import completed_event


async def _settled(api: Api) -> Api:
    """Wait until the app's real-time hub is connected: stopping it mid-connect can hang."""
    hub = getattr(api.app.state, "hub", None)
    if hub is not None:
        await asyncio.wait_for(hub.connected.wait(), 10)
    return api


@pytest.fixture
async def api(
    settings: SettingsFactory, db: str, redis_client: redis.asyncio.Redis, tmp_path: Path
) -> AsyncIterator[Api]:
    async with running_api(settings(), redis_client, tmp_path / "no-static") as running:
        yield await _settled(running)


@pytest.fixture
async def strict_api(
    settings: SettingsFactory, db: str, redis_client: redis.asyncio.Redis, tmp_path: Path
) -> AsyncIterator[Api]:
    """An app with REELAY_WEBHOOKS_ALLOW_PRIVATE off and a resolver that knows two names."""
    config = settings(webhooks_allow_private=False)
    async with running_api(config, redis_client, tmp_path / "no-static") as running:
        running.app.state.webhook_resolver = resolver_for(
            {"sneaky.example.com": ["127.0.0.1"], "hooks.example.com": ["93.184.215.14"]}
        )
        yield await _settled(running)


async def register(api: Api, url: str, **fields: Any) -> dict[str, Any]:
    response = await api.alice.post("/api/webhooks", json={"url": url, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_secret_is_shown_once_and_other_users_see_nothing(api: Api) -> None:
    created = await register(api, "http://127.0.0.1:9/hook", description="ci")
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) >= 24
    assert created["events"] == [
        "batch.completed",
        "export.cancelled",
        "export.completed",
        "export.failed",
    ]
    assert created["enabled"] is True and created["description"] == "ci"
    listed = (await api.alice.get("/api/webhooks")).json()["webhooks"]
    assert [w["id"] for w in listed] == [created["id"]] and "secret" not in listed[0]
    one = (await api.alice.get(f"/api/webhooks/{created['id']}")).json()
    assert "secret" not in one
    assert (await api.bob.get("/api/webhooks")).json() == {"webhooks": []}
    for call in (
        api.bob.get(f"/api/webhooks/{created['id']}"),
        api.bob.delete(f"/api/webhooks/{created['id']}"),
        api.bob.patch(f"/api/webhooks/{created['id']}", json={"enabled": False}),
        api.bob.post(f"/api/webhooks/{created['id']}/test"),
        api.bob.get(f"/api/webhooks/{created['id']}/deliveries"),
    ):
        assert_error(await call, 404, "not_found")
    assert (await api.anon.get("/api/webhooks")).status_code == 401


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "https://sneaky.example.com/hook",
    ],
)
async def test_private_targets_are_refused_at_registration(strict_api: Api, url: str) -> None:
    response = await strict_api.alice.post("/api/webhooks", json={"url": url})
    message = assert_error(response, 422, "private_address")
    assert message.startswith("url: ")
    assert (await strict_api.alice.get("/api/webhooks")).json() == {"webhooks": []}


async def test_public_targets_register_with_the_flag_off(strict_api: Api) -> None:
    await register(strict_api, "https://hooks.example.com/in")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "ftp://example.com/x"}, "invalid_url"),
        ({"url": "https://nowhere.example.com/"}, "unresolvable_host"),
        ({"url": "https://hooks.example.com/", "events": ["export.progress"]}, None),
        ({"url": "https://hooks.example.com/", "events": []}, None),
        ({"url": "https://hooks.example.com/", "description": 7}, None),
        ({}, None),
    ],
)
async def test_bad_registrations_are_422(
    strict_api: Api, body: dict[str, Any], code: str | None
) -> None:
    assert_error(await strict_api.alice.post("/api/webhooks", json=body), 422, code)


async def test_disable_enable_change_and_delete(api: Api) -> None:
    created = await register(api, "http://127.0.0.1:9/hook")
    url = f"/api/webhooks/{created['id']}"
    off = await api.alice.patch(url, json={"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert_error(await api.alice.post(f"{url}/test"), 409, "webhook_disabled")
    on = await api.alice.patch(url, json={"enabled": True, "events": ["export.failed"]})
    assert on.json()["enabled"] is True and on.json()["events"] == ["export.failed"]
    assert on.json()["disabled_reason"] is None
    assert_error(await api.alice.patch(url, json={"url": "gopher://x"}), 422, "invalid_url")
    for bad in ({"events": None}, {"events": ["export.progress"]}, {"enabled": "yes"}):
        assert_error(await api.alice.patch(url, json=bad), 422)
    assert (await api.alice.delete(url)).status_code == 204
    assert_error(await api.alice.get(url), 404)


async def test_the_test_event_is_queued_not_sent_in_the_request(api: Api) -> None:
    created = await register(api, "http://127.0.0.1:9/hook")
    response = await api.alice.post(f"/api/webhooks/{created['id']}/test")
    assert response.status_code == 202
    delivery = response.json()
    assert delivery["event_type"] == "webhook.test" and delivery["status"] == "pending"
    [message] = await api.queued_messages("webhooks")
    assert message["actor_name"] == "deliver_webhook"
    assert message["args"] == [delivery["id"], 1, True]


async def test_the_delivery_log_and_a_manual_retry(
    api: Api,
    enqueuer: RecordingEnqueuer,
    receiver: Receiver,
    slots: DeliverySlots,
) -> None:
    receiver.reply(Reply(500, body=b"nope"))
    created = await register(api, receiver.url)
    project = await make_project("alice")
    event = completed_event(project.id)
    [delivery_id] = await fan_out(enqueuer, event)
    config = api.settings
    await attempt_delivery(config, enqueuer, slots, delivery_id, 1)
    log_url = f"/api/webhooks/{created['id']}/deliveries"
    [pending] = (await api.alice.get(log_url)).json()["deliveries"]
    assert pending["status"] == "pending" and pending["event_id"] == event.id
    assert pending["attempts"][0]["status_code"] == 500
    assert pending["attempts"][0]["response"] == "nope"
    retry_url = f"{log_url}/{delivery_id}/retry"
    assert_error(await api.alice.post(retry_url), 409, "delivery_pending")
    await WebhookDelivery.filter(id=delivery_id).update(status=DeliveryStatus.FAILED)
    retried = await api.alice.post(retry_url)
    assert retried.status_code == 202 and retried.json()["status"] == "pending"
    [message] = await api.queued_messages("webhooks")
    assert message["args"] == [delivery_id, 2, True]
    await attempt_delivery(config, enqueuer, slots, delivery_id, 2, manual=True)
    [done] = (await api.alice.get(log_url)).json()["deliveries"]
    assert done["status"] == "succeeded" and done["attempt_count"] == 2
    assert [(a["number"], a["manual"], a["success"]) for a in done["attempts"]] == [
        (1, False, False),
        (2, True, True),
    ]
    assert [r.headers["webhook-id"] for r in receiver.received] == [event.id, event.id]
    assert_error(await api.bob.post(retry_url), 404)


async def test_every_webhook_route_is_in_the_openapi_document(api: Api) -> None:
    document = (await api.anon.get("/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/api/webhooks"]) == {"get", "post"}
    assert set(paths["/api/webhooks/{webhook_id}"]) == {"get", "patch", "delete"}
    assert set(paths["/api/webhooks/{webhook_id}/test"]) == {"post"}
    assert set(paths["/api/webhooks/{webhook_id}/deliveries"]) == {"get"}
    assert set(paths["/api/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"]) == {"post"}
    created = paths["/api/webhooks"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/WebhookCreated")
