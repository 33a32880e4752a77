"""Per-user limits hold under parallel requests spread over two web processes sharing one
database (SQLite file or PostgreSQL), and a slot comes back on complete, fail, cancel and
delete.

The servers are real uvicorn processes; rows the API cannot create without a render (a
project's source, a failed export) are written with the ORM, and status changes a worker
makes go through the export state machine (server.domain.export_lifecycle).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio

from server.domain import export_lifecycle as lifecycle
from server.domain.limits import MAX_WEBHOOKS_PER_USER
from server.domain.models import (
    ACTIVE_STATUSES,
    Batch,
    Export,
    ExportStatus,
    Moment,
    Project,
    WebhookEndpoint,
    new_id,
)
from tests.api.helpers import assert_error
from tests.conftest import RedisServer, SettingsFactory
from tests.realtime.fixtures import token
from tests.realtime.servers import WebServer
from tests.workers.helpers import runtime_for
from workers.render.spec import OutputInfo
from workers.runtime import WorkerRuntime

ACTIVE_LIMIT = 5
BURST = 30
USER = "alice"


@pytest.fixture(scope="module")
def web_pair(
    database_url: str, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WebServer, WebServer]]:
    """Two web processes on the same database and Redis, the active limit at 5."""
    redis_server.start()
    env = {"REELAY_MAX_ACTIVE_EXPORTS": str(ACTIVE_LIMIT), "REELAY_WEBHOOKS_ALLOW_PRIVATE": "1"}
    started: list[WebServer] = []
    try:
        for name in ("web-a", "web-b"):
            server = WebServer(
                tmp_path_factory.mktemp(name),
                redis_url=redis_server.url,
                database_url=database_url,
                env=env,
            )
            server.start()
            started.append(server)
        yield started[0], started[1]
    finally:
        for server in started:
            server.stop()


@pytest.fixture
async def clients(
    db: str, redis_client: redis.asyncio.Redis, web_pair: tuple[WebServer, WebServer]
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One client per web process, both signed in as ``alice``, on emptied tables."""
    headers = {"Authorization": f"Bearer {token(USER)}"}
    opened = [
        httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=60)
        for server in web_pair
    ]
    try:
        yield opened
    finally:
        for client in opened:
            await client.aclose()


async def seed_project(user: str = USER) -> tuple[Project, Moment]:
    """A project (its source never read here) with one two-second moment."""
    project_id = new_id("prj")
    project = await Project.create(
        id=project_id, user_id=user, name="p", source_key=f"projects/{project_id}/source.mp4",
        duration_s=10.0, width=320, height=240, fps=30.0, has_audio=False, size_bytes=1,
    )  # fmt: skip
    moment = await Moment.create(
        id=new_id("mom"), user_id=user, project=project, start_s=0.0, end_s=2.0
    )
    return project, moment


async def seed_failed_exports(project: Project, moment: Moment, count: int) -> list[str]:
    batch = await Batch.create(id=new_id("bat"), user_id=project.user_id, project=project)
    ids = []
    for _ in range(count):
        export = await Export.create(
            id=new_id("exp"), user_id=project.user_id, project=project, moment=moment,
            batch=batch, aspect_ratio="9:16", resolution="720p", status=ExportStatus.FAILED,
            error_code="render_failed", error_message="seeded",
        )  # fmt: skip
        ids.append(export.id)
    return ids


async def active_exports(user: str = USER) -> int:
    return await Export.filter(user_id=user, status__in=list(ACTIVE_STATUSES)).count()


@contextlib.asynccontextmanager
async def watching(count: Any) -> AsyncIterator[list[int]]:
    """Samples ``count()`` until the block ends: what the database held meanwhile."""
    seen: list[int] = []
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            seen.append(await count())
            await asyncio.sleep(0.005)

    task = asyncio.create_task(watch())
    try:
        yield seen
    finally:
        done.set()
        await task
    seen.append(await count())


async def burst(
    clients: list[httpx.AsyncClient], requests: list[tuple[str, dict[str, Any] | None]]
) -> list[httpx.Response]:
    """POST every ``(path, body)`` at once, alternating between the web processes."""
    pairs = zip(itertools.cycle(clients), requests, strict=False)
    return list(await asyncio.gather(*(c.post(path, json=body) for c, (path, body) in pairs)))


def tally(responses: list[httpx.Response]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for response in responses:
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
    return counts


async def test_parallel_exports_never_exceed_the_active_limit(
    clients: list[httpx.AsyncClient],
) -> None:
    project, moment = await seed_project()
    path = f"/api/projects/{project.id}/exports"
    async with watching(active_exports) as seen:
        responses = await burst(clients, [(path, {"moment_ids": [moment.id]})] * BURST)
    assert tally(responses) == {202: ACTIVE_LIMIT, 429: BURST - ACTIVE_LIMIT}
    for response in responses:
        if response.status_code == 429:
            assert_error(response, 429, "too_many_active_exports")
            assert int(response.headers["retry-after"]) > 0
    assert max(seen) == ACTIVE_LIMIT and seen[-1] == ACTIVE_LIMIT
    assert await Export.filter(user_id=USER).count() == ACTIVE_LIMIT
    assert await Batch.filter(user_id=USER).count() == ACTIVE_LIMIT  # refused: nothing written


async def test_parallel_retries_never_exceed_the_active_limit(
    clients: list[httpx.AsyncClient],
) -> None:
    project, moment = await seed_project()
    failed = await seed_failed_exports(project, moment, BURST)
    async with watching(active_exports) as seen:
        responses = await burst(clients, [(f"/api/exports/{e}/retry", None) for e in failed])
    assert tally(responses) == {202: ACTIVE_LIMIT, 429: BURST - ACTIVE_LIMIT}
    for response in responses:
        if response.status_code == 429:
            assert_error(response, 429, "too_many_active_exports")
    assert max(seen) == ACTIVE_LIMIT and seen[-1] == ACTIVE_LIMIT
    still_failed = await Export.filter(status=ExportStatus.FAILED).count()
    assert still_failed == BURST - ACTIVE_LIMIT


async def test_parallel_webhook_registrations_never_exceed_the_limit(
    clients: list[httpx.AsyncClient],
) -> None:
    async def endpoints() -> int:
        return await WebhookEndpoint.filter(user_id=USER).count()

    body = {"url": "http://127.0.0.1:9/hook"}
    async with watching(endpoints) as seen:
        responses = await burst(clients, [("/api/webhooks", body)] * BURST)
    assert tally(responses) == {201: MAX_WEBHOOKS_PER_USER, 422: BURST - MAX_WEBHOOKS_PER_USER}
    for response in responses:
        if response.status_code == 422:
            assert_error(response, 422, "too_many_webhooks")
    assert max(seen) == MAX_WEBHOOKS_PER_USER and seen[-1] == MAX_WEBHOOKS_PER_USER
    # Deleting one gives its slot back, once.
    deleted = responses[[r.status_code for r in responses].index(201)].json()["id"]
    client = clients[1]
    assert (await client.delete(f"/api/webhooks/{deleted}")).status_code == 204
    assert (await client.post("/api/webhooks", json=body)).status_code == 201
    assert_error(await client.post("/api/webhooks", json=body), 422, "too_many_webhooks")


class Slots:
    """Asks for one more export at a time and says whether a slot was free."""

    def __init__(self, client: httpx.AsyncClient, project: Project, moment: Moment) -> None:
        self.client = client
        self.path = f"/api/projects/{project.id}/exports"
        self.body = {"moment_ids": [moment.id]}

    async def take(self) -> str:
        response = await self.client.post(self.path, json=self.body)
        assert response.status_code == 202, response.text
        return str(response.json()["exports"][0]["id"])

    async def assert_full(self) -> None:
        response = await self.client.post(self.path, json=self.body)
        assert_error(response, 429, "too_many_active_exports")
        assert await active_exports() == ACTIVE_LIMIT

    async def assert_one_freed(self) -> str:
        """Exactly one slot came back: the next export is accepted, the one after refused."""
        taken = await self.take()
        await self.assert_full()
        return taken


async def start(rt: WorkerRuntime, export_id: str) -> Export:
    export = await Export.get(id=export_id)
    await lifecycle.start(rt, export, chunks_total=1, frames_total=60, duration_s=2.0)
    return await Export.get(id=export_id)


async def test_slots_come_back_on_complete_fail_cancel_and_delete(
    clients: list[httpx.AsyncClient],
    settings: SettingsFactory,
    redis_client: redis.asyncio.Redis,
    tmp_path: Path,
) -> None:
    rt = runtime_for(settings, redis_client)
    project, moment = await seed_project()
    doomed_project, doomed_moment = await seed_project()
    slots = Slots(clients[0], project, moment)
    held = [await slots.take() for _ in range(ACTIVE_LIMIT - 1)]
    doomed = await Slots(clients[1], doomed_project, doomed_moment).take()
    await slots.assert_full()

    # complete (through running, as a worker does)
    running = await start(rt, held[0])
    output = OutputInfo(
        path=str(tmp_path / "out.mp4"), size_bytes=1, duration_s=2.0, width=720, height=1280,
        has_audio=False,
    )  # fmt: skip
    assert await lifecycle.complete(rt, running, output, f"exports/{running.id}/video.mp4")
    await slots.assert_one_freed()

    # fail
    assert await lifecycle.fail(rt, await start(rt, held[1]), "render_failed", "test failure")
    await slots.assert_one_freed()

    # cancel while queued: cancelled at once by the API
    response = await clients[1].post(f"/api/exports/{held[2]}/cancel")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    await slots.assert_one_freed()

    # cancel while running: cancelling still holds the slot until the worker ends it
    running = await start(rt, held[3])
    response = await clients[0].post(f"/api/exports/{running.id}/cancel")
    assert response.status_code == 202 and response.json()["status"] == "cancelling"
    await slots.assert_full()
    assert await lifecycle.cancel(rt, await Export.get(id=running.id))
    await slots.assert_one_freed()

    # delete the project: its active export goes with it
    response = await clients[1].delete(f"/api/projects/{doomed_project.id}")
    assert response.status_code == 204
    assert not await Export.filter(id=doomed).exists()
    await slots.assert_one_freed()

    # and a retry takes a slot like a new export does
    failed = (await Export.get(id=held[1])).id
    assert_error(await clients[0].post(f"/api/exports/{failed}/retry"), 429)
