"""Server-Sent Events on the polling URL: replay, live, ``Last-Event-ID``, reset, auth."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.domain.events import EventLog
from tests.realtime.fixtures import create_project, token
from tests.realtime.servers import WebServer

pytestmark = pytest.mark.timeout(60)


async def frames(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Parsed SSE frames: ``{"id", "event", "data", "comment"}`` (absent fields omitted)."""
    frame: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if line == "":
            if frame:
                yield frame
            frame = {}
        elif line.startswith(":"):
            frame["comment"] = line[1:].strip()
        else:
            name, _, value = line.partition(":")
            frame[name] = value.removeprefix(" ")


def stream(server: WebServer, project: str, user: str = "alice", **headers: str) -> Any:
    client = httpx.AsyncClient(base_url=server.base_url, timeout=10)
    request = client.build_request(
        "GET",
        f"/api/projects/{project}/events",
        headers={
            "Authorization": f"Bearer {token(user)}",
            "Accept": "text/event-stream",
            **headers,
        },
    )
    return client, request


async def read_events(
    server: WebServer, project: str, count: int, **headers: str
) -> list[dict[str, Any]]:
    """The first ``count`` frames that carry an ``id`` (events and resets)."""
    client, request = stream(server, project, **headers)
    got: list[dict[str, Any]] = []
    async with client:
        response = await client.send(request, stream=True)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for frame in frames(response):
            if "id" in frame:
                got.append(frame)
            if len(got) >= count:
                break
        await response.aclose()
    return got


async def test_sse_replays_then_resumes_from_last_event_id(
    server: WebServer, log: EventLog, tiny_video: Path
) -> None:
    project = create_project(server.base_url, "alice", tiny_video)
    for _ in range(5):
        await log.append(project, "export.progress", export_id="e1")
    first = await read_events(server, project, 5)
    assert [int(f["id"]) for f in first] == [1, 2, 3, 4, 5]
    assert [json.loads(f["data"])["seq"] for f in first] == [1, 2, 3, 4, 5]
    assert "event" not in first[0]  # plain messages: EventSource.onmessage sees them

    await log.append(project, "export.completed", export_id="e1")
    resumed = await read_events(server, project, 3, **{"Last-Event-ID": "3"})
    assert [int(f["id"]) for f in resumed] == [4, 5, 6]


async def test_sse_streams_live_events_with_keepalives(
    server: WebServer, log: EventLog, tiny_video: Path
) -> None:
    project = create_project(server.base_url, "alice", tiny_video)
    client, request = stream(server, project)
    seen: list[dict[str, Any]] = []
    async with client:
        response = await client.send(request, stream=True)
        async for frame in frames(response):
            seen.append(frame)
            if frame.get("event") == "subscribed":
                await log.append(project, "export.queued", export_id="e1")
            if frame.get("comment") == "keep-alive" and any("id" in f for f in seen):
                break
        await response.aclose()
    live = [f for f in seen if "id" in f]
    assert [int(f["id"]) for f in live] == [1]
    assert json.loads(live[0]["data"])["type"] == "export.queued"


async def test_sse_cursor_the_log_cannot_answer_is_a_reset(
    server: WebServer, log: EventLog, tiny_video: Path
) -> None:
    project = create_project(server.base_url, "alice", tiny_video)
    await log.append(project, "export.queued", export_id="e1")
    (reset,) = await read_events(server, project, 1, **{"Last-Event-ID": "99"})
    assert reset["event"] == "reset" and reset["id"] == "1"
    assert json.loads(reset["data"]) == {"project_id": project, "last_seq": 1}


async def test_sse_needs_a_token_and_ownership(server: WebServer, tiny_video: Path) -> None:
    project = create_project(server.base_url, "alice", tiny_video)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        url = f"/api/projects/{project}/events"
        anonymous = await client.get(url, headers={"Accept": "text/event-stream"})
        assert anonymous.status_code == 401
        headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {token('bob')}"}
        assert (await client.get(url, headers=headers)).status_code == 404
