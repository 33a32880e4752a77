"""/metrics counts this process's sockets and the live events it delivered."""

from __future__ import annotations

from pathlib import Path

import httpx

from server.domain.events import EventLog
from tests.realtime.conftest import open_socket
from tests.realtime.fixtures import create_project
from tests.realtime.servers import WebServer


async def _value(base_url: str, name: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{base_url}/metrics")).text
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} missing from /metrics")


async def test_sockets_and_delivered_events_are_counted(
    server: WebServer, log: EventLog, tiny_video: Path
) -> None:
    project = create_project(server.base_url, "alice", tiny_video)
    before = await _value(server.base_url, "reelay_events_delivered")
    socket = await open_socket(server)
    try:
        await socket.send({"type": "subscribe", "project_id": project, "since": 0})
        await socket.until("subscribed")
        assert await _value(server.base_url, "reelay_sockets") >= 1
        for _ in range(3):
            await log.append(project, "export.queued", export_id="exp_m")
        for _ in range(3):
            await socket.until("event")
        after = await _value(server.base_url, "reelay_events_delivered")
        assert after - before >= 3
    finally:
        await socket.close()
