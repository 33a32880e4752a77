"""A client that stops reading is closed with 4008; the server's memory stays bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from server.domain.events import EventLog
from tests.conftest import RedisServer
from tests.realtime.conftest import Socket, start_server
from tests.realtime.fixtures import create_project, token
from tests.realtime.frozen import FrozenClient
from tests.realtime.servers import WebServer

pytestmark = pytest.mark.timeout(90)

QUEUE = 32
EVENTS = 1_500
PAD = 16_000  # bytes of data per event: ~24 MB in all


@pytest.fixture(scope="module")
def small_queue_server(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebServer]:
    redis_server.start()
    tmp = tmp_path_factory.mktemp("rt-slow")
    server = start_server(
        tmp, redis_server.url, f"sqlite://{tmp / 'db.sqlite3'}", REELAY_WS_SEND_QUEUE=str(QUEUE)
    )
    yield server
    server.stop()


async def test_slow_consumer_is_closed_4008_and_server_memory_is_bounded(
    small_queue_server: WebServer, log: EventLog, tiny_video: Path
) -> None:
    server = small_queue_server
    project = create_project(server.base_url, "alice", tiny_video)
    slow = FrozenClient("127.0.0.1", server.port)
    slow.send({"type": "auth", "token": token("alice")})
    slow.until("ready")
    slow.send({"type": "subscribe", "project_id": project, "since": 0})
    slow.until("subscribed")
    healthy = Socket(await connect(server.ws_url))
    await healthy.send({"type": "auth", "token": token("alice")})
    await healthy.until("ready")
    await healthy.send({"type": "subscribe", "project_id": project, "since": 0})
    await healthy.until("subscribed")

    rss_before = server.rss()
    reader = asyncio.create_task(_drain(healthy, EVENTS))
    for _ in range(EVENTS):
        await log.append(project, "export.progress", export_id="e1", data={"pad": "x" * PAD})
    await asyncio.wait_for(reader, 60)  # a fast client on the same project got everything
    growth = server.rss() - rss_before
    sent_mib = EVENTS * PAD / 2**20
    assert growth < 12 * 2**20, f"server grew {growth / 2**20:.1f} MiB of {sent_mib:.0f} sent"

    code = await asyncio.to_thread(slow.drain, 15)
    slow.close()
    assert code == 4008
    received = [m for m in slow.texts if m["type"] == "event"]
    assert len(received) < EVENTS / 2


async def _drain(socket: Socket, count: int) -> None:
    while len(socket.events()) < count:
        await socket.recv(timeout_s=30)
    await socket.close()
