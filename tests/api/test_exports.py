"""Exports: 202 at once with rows, events and queued messages; idempotency; cancel; retry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.adapters.redis_keys import cancel_flag as cancel_key
from server.domain.models import Batch, Export, ExportStatus, IdempotencyRecord
from tests.api.conftest import Api, Media
from tests.api.helpers import assert_error, exports, moment, project

EXPORT_FIELDS = {
    "id",
    "project_id",
    "moment_id",
    "batch_id",
    "aspect_ratio",
    "resolution",
    "captions",
    "status",
    "progress",
    "chunks_done",
    "chunks_total",
    "eta_s",
    "speed",
    "video_url",
    "preview_url",
    "poster_url",
    "size_bytes",
    "duration_s",
    "width",
    "height",
    "error",
    "focus_track",
    "focus_fallback",
    "created_at",
    "started_at",
    "finished_at",
}


@pytest.fixture
async def setup(api: Api, media: Media) -> dict[str, Any]:
    source = await project(api.alice, media.video)
    first = await moment(api.alice, source["id"], start_s=0.0, end_s=1.0)
    second = await moment(api.alice, source["id"], start_s=1.0, end_s=2.5)
    return {"project": source, "moments": [first["id"], second["id"]]}


async def events_of(api: Api, project_id: str, since: int = 0) -> list[dict[str, Any]]:
    response = await api.alice.get(f"/api/projects/{project_id}/events", params={"since": since})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def test_create_answers_202_with_rows_events_and_messages(
    api: Api, setup: dict[str, Any]
) -> None:
    project_id = setup["project"]["id"]
    body = await exports(
        api.alice,
        project_id,
        setup["moments"],
        aspect_ratio="1:1",
        resolution="1080p",
        captions=False,
        notify_email="me@example.com",
    )
    assert body["status"] == "processing"
    assert len(body["exports"]) == 2
    for item, moment_id in zip(body["exports"], setup["moments"], strict=True):
        assert set(item) == EXPORT_FIELDS
        assert item["moment_id"] == moment_id
        assert item["batch_id"] == body["batch_id"]
        assert (item["status"], item["progress"], item["video_url"], item["error"]) == (
            "queued",
            0.0,
            None,
            None,
        )
        assert (item["aspect_ratio"], item["resolution"], item["captions"]) == (
            "1:1",
            "1080p",
            False,
        )
    assert await Batch.filter(id=body["batch_id"], user_id="alice").exists()
    rows = await Export.filter(batch_id=body["batch_id"])
    assert {r.id for r in rows} == {e["id"] for e in body["exports"]}
    assert all(r.notify_email == "me@example.com" and r.attempt == 1 for r in rows)
    events = await events_of(api, project_id)
    assert [(e["type"], e["export_id"], e["batch_id"]) for e in events] == [
        ("export.queued", e["id"], body["batch_id"]) for e in body["exports"]
    ]
    assert [e["seq"] for e in events] == [1, 2]
    messages = await api.queued_messages()
    assert sorted((m["actor_name"], tuple(m["args"])) for m in messages) == sorted(
        ("plan_export", (e["id"], 1)) for e in body["exports"]
    )


async def test_defaults(api: Api, setup: dict[str, Any]) -> None:
    response = await api.alice.post(
        f"/api/projects/{setup['project']['id']}/exports", json={"moment_ids": setup["moments"][:1]}
    )
    assert response.status_code == 202
    item = response.json()["exports"][0]
    assert (item["aspect_ratio"], item["resolution"], item["captions"]) == ("9:16", "720p", True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "moment_ids"),
        ({"moment_ids": []}, "moment_ids"),
        ({"moment_ids": "x"}, "moment_ids"),
        ({"moment_ids": [1]}, "moment_ids[0]"),
        ({"moment_ids": "DUP"}, "moment_ids"),
        ({"aspect_ratio": "3:2"}, "aspect_ratio"),
        ({"resolution": "4k"}, "resolution"),
        ({"captions": "yes"}, "captions"),
        ({"notify_email": "not-an-email"}, "notify_email"),
    ],
)
async def test_invalid_request_is_422(
    api: Api, setup: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    if body.get("moment_ids") == "DUP":
        body = {"moment_ids": [setup["moments"][0]] * 2}
    elif "moment_ids" not in body and field != "moment_ids":
        body = {"moment_ids": setup["moments"], **body}
    response = await api.alice.post(f"/api/projects/{setup['project']['id']}/exports", json=body)
    assert assert_error(response, 422, "validation_error").startswith(field + ":")
    assert await Export.all().count() == 0
    assert await api.queued_messages() == []


async def test_moments_must_belong_to_the_project(
    api: Api, media: Media, setup: dict[str, Any]
) -> None:
    other = await project(api.alice, media.silent_video)
    foreign = await moment(api.alice, other["id"], start_s=0.0, end_s=1.0)
    for ids in ([foreign["id"]], [setup["moments"][0], "mom_missing"]):
        response = await api.alice.post(
            f"/api/projects/{setup['project']['id']}/exports", json={"moment_ids": ids}
        )
        assert_error(response, 422, "unknown_moment")
    assert await Export.all().count() == 0


@pytest.mark.settings(max_exports_per_request=1)
async def test_too_many_exports_per_request_is_422(api: Api, setup: dict[str, Any]) -> None:
    response = await api.alice.post(
        f"/api/projects/{setup['project']['id']}/exports", json={"moment_ids": setup["moments"]}
    )
    assert_error(response, 422, "validation_error")


async def test_idempotency_key_replays_and_conflicts(api: Api, setup: dict[str, Any]) -> None:
    url = f"/api/projects/{setup['project']['id']}/exports"
    body = {"moment_ids": setup["moments"][:1], "aspect_ratio": "16:9"}
    headers = {"Idempotency-Key": "k-1"}
    first = await api.alice.post(url, json=body, headers=headers)
    again = await api.alice.post(url, json=dict(reversed(list(body.items()))), headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert await Export.all().count() == 1
    assert len(await api.queued_messages()) == 1
    assert len(await events_of(api, setup["project"]["id"])) == 1
    other = await api.alice.post(url, json={**body, "aspect_ratio": "1:1"}, headers=headers)
    assert_error(other, 409, "idempotency_conflict")
    # Keys are per user: bob's "k-1" is his own (and this project is not his: 404).
    assert_error(await api.bob.post(url, json=body, headers=headers), 404)
    assert await IdempotencyRecord.all().count() == 1


async def test_concurrent_requests_with_one_key_start_once(api: Api, setup: dict[str, Any]) -> None:
    url = f"/api/projects/{setup['project']['id']}/exports"
    body = {"moment_ids": setup["moments"]}
    responses = await asyncio.gather(
        *(api.alice.post(url, json=body, headers={"Idempotency-Key": "race"}) for _ in range(4))
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["batch_id"] for r in responses}) == 1
    assert await Batch.all().count() == 1
    assert len(await api.queued_messages()) == 2


async def test_expired_idempotency_key_starts_anew(api: Api, setup: dict[str, Any]) -> None:
    url = f"/api/projects/{setup['project']['id']}/exports"
    body = {"moment_ids": setup["moments"][:1]}
    first = await api.alice.post(url, json=body, headers={"Idempotency-Key": "old"})
    from datetime import UTC, datetime, timedelta

    await IdempotencyRecord.filter(key="old").update(
        created_at=datetime.now(UTC) - timedelta(hours=25)
    )
    second = await api.alice.post(url, json=body, headers={"Idempotency-Key": "old"})
    assert second.status_code == 202
    assert second.json()["batch_id"] != first.json()["batch_id"]


async def test_list_is_newest_first(api: Api, setup: dict[str, Any]) -> None:
    project_id = setup["project"]["id"]
    older = await exports(api.alice, project_id, setup["moments"][:1])
    newer = await exports(api.alice, project_id, setup["moments"][1:])
    listed = (await api.alice.get(f"/api/projects/{project_id}/exports")).json()["exports"]
    assert [e["id"] for e in listed] == [newer["exports"][0]["id"], older["exports"][0]["id"]]
    one = (await api.alice.get(f"/api/exports/{older['exports'][0]['id']}")).json()
    assert one == older["exports"][0]


async def test_cancel_queued_export_goes_straight_to_cancelled(
    api: Api, setup: dict[str, Any]
) -> None:
    project_id = setup["project"]["id"]
    batch = await exports(api.alice, project_id, setup["moments"][:1])
    export_id = batch["exports"][0]["id"]
    response = await api.alice.post(f"/api/exports/{export_id}/cancel")
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    assert await api.redis.exists(cancel_key(export_id))
    types = [e["type"] for e in await events_of(api, project_id)]
    assert types == ["export.queued", "export.cancelled", "batch.completed"]
    assert_error(await api.alice.post(f"/api/exports/{export_id}/cancel"), 409, "export_finished")


async def test_cancel_running_export_asks_the_worker(api: Api, setup: dict[str, Any]) -> None:
    project_id = setup["project"]["id"]
    batch = await exports(api.alice, project_id, setup["moments"][:1])
    export_id = batch["exports"][0]["id"]
    from datetime import UTC, datetime

    await Export.filter(id=export_id).update(
        status=ExportStatus.RUNNING, started_at=datetime.now(UTC), progress=0.4
    )
    response = await api.alice.post(f"/api/exports/{export_id}/cancel")
    assert response.status_code == 202
    assert response.json()["status"] == "cancelling"
    assert await api.redis.exists(cancel_key(export_id))
    events = await events_of(api, project_id)
    assert [e["type"] for e in events] == ["export.queued", "export.cancelling"]
    again = await api.alice.post(f"/api/exports/{export_id}/cancel")
    assert again.status_code == 202 and again.json()["status"] == "cancelling"
    assert len(await events_of(api, project_id)) == 2


@pytest.mark.parametrize("status", [ExportStatus.COMPLETED, ExportStatus.FAILED])
async def test_cancel_terminal_export_is_409(
    api: Api, setup: dict[str, Any], status: ExportStatus
) -> None:
    batch = await exports(api.alice, setup["project"]["id"], setup["moments"][:1])
    export_id = batch["exports"][0]["id"]
    await Export.filter(id=export_id).update(status=status)
    assert_error(await api.alice.post(f"/api/exports/{export_id}/cancel"), 409, "export_finished")


async def test_retry_failed_export_starts_a_new_attempt(api: Api, setup: dict[str, Any]) -> None:
    project_id = setup["project"]["id"]
    batch = await exports(api.alice, project_id, setup["moments"][:1])
    export_id = batch["exports"][0]["id"]
    assert_error(
        await api.alice.post(f"/api/exports/{export_id}/retry"), 409, "export_not_retryable"
    )
    await api.alice.post(f"/api/exports/{export_id}/cancel")
    await Export.filter(id=export_id).update(
        status=ExportStatus.FAILED, error_code="render_failed", error_message="boom", progress=0.5
    )
    failed = (await api.alice.get(f"/api/exports/{export_id}")).json()
    assert failed["error"] == {"code": "render_failed", "message": "boom"}
    response = await api.alice.post(f"/api/exports/{export_id}/retry")
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["status"], body["progress"], body["error"]) == ("queued", 0.0, None)
    row = await Export.get(id=export_id)
    assert row.attempt == 2
    assert not await api.redis.exists(cancel_key(export_id))
    messages = await api.queued_messages()
    assert sorted(tuple(m["args"]) for m in messages) == [(export_id, 1), (export_id, 2)]
    types = [e["type"] for e in await events_of(api, project_id)]
    assert types[-1] == "export.queued"
    assert not (await Batch.get(id=batch["batch_id"])).completed_notified


async def test_unknown_export_is_404(api: Api) -> None:
    for path in ("/api/exports/exp_x", "/api/exports/exp_x/video"):
        assert_error(await api.alice.get(path), 404, "not_found")
    for path in ("/api/exports/exp_x/cancel", "/api/exports/exp_x/retry"):
        assert_error(await api.alice.post(path), 404, "not_found")
