"""The hub reconnects by itself when Redis restarts; clients resume or get a reset."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio
import redis.exceptions

from server.domain.events import EventLog
from tests.conftest import RedisServer
from tests.realtime.conftest import open_socket, start_server
from tests.realtime.fixtures import create_project
from tests.realtime.redis_servers import persistent_redis
from tests.realtime.servers import WebServer

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(params=["volatile", "persistent"])
def private_redis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisServer]:
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = persistent_redis(workdir) if request.param == "persistent" else RedisServer(workdir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_server(private_redis: RedisServer, tmp_path: Path) -> Iterator[WebServer]:
    server = start_server(tmp_path / "web", private_redis.url, f"sqlite://{tmp_path / 'db'}")
    yield server
    server.stop()


@pytest.fixture
async def private_log(private_redis: RedisServer) -> AsyncIterator[EventLog]:
    client = redis.asyncio.Redis.from_url(private_redis.url)
    yield EventLog(client, maxlen=1000, max_age_s=3600)
    await client.aclose()


async def test_redis_restart_resumes_from_the_cursor_or_resets(
    private_redis: RedisServer,
    private_server: WebServer,
    private_log: EventLog,
    tiny_video: Path,
) -> None:
    project = create_project(private_server.base_url, "alice", tiny_video)
    socket = await open_socket(private_server)
    await socket.send({"type": "subscribe", "project_id": project, "since": 0})
    await socket.until("subscribed")
    for _ in range(3):
        await private_log.append(project, "export.progress", export_id="e1")
    while len(socket.events()) < 3:
        await socket.recv()

    await asyncio.to_thread(private_redis.restart)
    with contextlib.suppress(redis.exceptions.ConnectionError):
        await private_log.last_seq(project)  # the test's own client notices the restart
    kept = await private_log.last_seq(project) == 3
    assert kept == private_redis.executable.endswith("-aof")
    for _ in range(2):
        await private_log.append(project, "export.progress", export_id="e1")

    if kept:  # persistent Redis: the same story goes on, nothing missed, nothing twice
        while len(socket.events()) < 5:
            await socket.recv(timeout_s=15)
        assert [e["seq"] for e in socket.events()] == [1, 2, 3, 4, 5]
        assert not [m for m in socket.received if m["type"] == "reset"]
    else:  # the log is gone: never a silent gap, the client is told to reload
        reset = await socket.until("reset", timeout_s=15)
        assert reset["project_id"] == project and reset["last_seq"] <= 2
        while not socket.events() or socket.events()[-1]["seq"] < 2:
            await socket.recv(timeout_s=15)
        after = [e["seq"] for e in socket.events()[3:]]
        assert after == list(range(reset["last_seq"] + 1, 3))
    await socket.send({"type": "ping"})
    await socket.until("pong")
    await socket.close()
