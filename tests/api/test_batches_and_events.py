"""Batches report their exports together; event polling pages, resets and validates."""

from __future__ import annotations

from typing import Any

import pytest

from server.domain.events import EventLog
from server.domain.models import Export, ExportStatus
from tests.api.conftest import Api, Media
from tests.api.helpers import assert_error, exports, moment, project


@pytest.fixture
async def batch(api: Api, media: Media) -> dict[str, Any]:
    source = await project(api.alice, media.video)
    ids = [(await moment(api.alice, source["id"], start_s=s, end_s=s + 1))["id"] for s in (0, 1)]
    return await exports(api.alice, source["id"], ids)


async def test_batch_is_processing_until_every_export_ends(api: Api, batch: dict[str, Any]) -> None:
    first, second = (e["id"] for e in batch["exports"])
    url = f"/api/batches/{batch['batch_id']}"
    body = (await api.alice.get(url)).json()
    assert set(body) == {"id", "status", "exports", "progress"}
    assert (body["id"], body["status"], body["progress"]) == (batch["batch_id"], "processing", 0)
    assert [e["id"] for e in body["exports"]] == [first, second]
    await Export.filter(id=first).update(status=ExportStatus.COMPLETED, progress=1.0)
    await Export.filter(id=second).update(status=ExportStatus.RUNNING, progress=0.5)
    body = (await api.alice.get(url)).json()
    assert (body["status"], body["progress"]) == ("processing", 0.75)
    await Export.filter(id=second).update(status=ExportStatus.FAILED)
    body = (await api.alice.get(url)).json()
    assert body["status"] == "completed"


async def test_unknown_batch_is_404(api: Api) -> None:
    assert_error(await api.alice.get("/api/batches/bat_nope"), 404, "not_found")


async def test_events_page_with_the_cursor(api: Api, media: Media) -> None:
    source = await project(api.alice, media.video)
    url = f"/api/projects/{source['id']}/events"
    assert (await api.alice.get(url)).json() == {"events": [], "last_seq": 0}
    log: EventLog = api.app.state.services.events
    for _ in range(5):
        await log.append(source["id"], "export.progress", export_id="exp_1", data={"progress": 0.1})
    page = (await api.alice.get(url, params={"since": 1, "limit": 2})).json()
    assert [e["seq"] for e in page["events"]] == [2, 3]
    assert page["last_seq"] == 5 and "reset" not in page
    event = page["events"][0]
    assert set(event) == {"id", "seq", "type", "project_id", "export_id", "batch_id", "ts", "data"}
    page = (await api.alice.get(url, params={"since": 3})).json()
    assert [e["seq"] for e in page["events"]] == [4, 5]
    assert (await api.alice.get(url, params={"since": 5})).json() == {"events": [], "last_seq": 5}


@pytest.mark.settings(event_log_maxlen=3)
async def test_cursor_older_than_the_log_resets(api: Api, media: Media) -> None:
    source = await project(api.alice, media.video)
    log: EventLog = api.app.state.services.events
    for _ in range(6):
        await log.append(source["id"], "export.progress", export_id="exp_1", data={})
    response = await api.alice.get(f"/api/projects/{source['id']}/events", params={"since": 1})
    assert response.json() == {"events": [], "last_seq": 6, "reset": True}


@pytest.mark.parametrize(
    "params",
    [
        {"since": "-1"},
        {"since": "abc"},
        {"since": "1.5"},
        {"limit": "0"},
        {"limit": "501"},
        {"since": "١"},
        {"since": str(2**53)},
        {"since": "9" * 5000},
    ],
)
async def test_bad_cursor_is_400(api: Api, media: Media, params: dict[str, str]) -> None:
    source = await project(api.alice, media.video)
    response = await api.alice.get(f"/api/projects/{source['id']}/events", params=params)
    assert_error(response, 400, "invalid_parameter")
