"""Real ``reelay dev`` (web + a worker process) plus a second ``reelay web``, one Redis.

Redis keeps its data (AOF) here, as in production: a restart mid-export must then lose
nothing — the export completes and each client ends with the whole sequence.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.adapters.auth import issue_token
from tests.conftest import RedisServer
from tests.e2e.stack import JWT_SECRET, Stack, start_stack, stop_stack
from tests.media import make_video
from tests.realtime.conftest import Socket, open_ws
from tests.realtime.redis_servers import persistent_redis
from tests.realtime.servers import WebServer

pytestmark = pytest.mark.timeout(240)

TERMINAL = {"export.completed", "export.failed", "export.cancelled"}


@pytest.fixture(scope="module")
def aof_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = persistent_redis(tmp_path_factory.mktemp("aof-redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack_and_web(
    aof_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, WebServer]]:
    tmp = tmp_path_factory.mktemp("rt-stack")
    database_url = f"sqlite://{tmp / 'db.sqlite3'}"
    stack = start_stack(
        tmp / "stack", redis_url=aof_redis.url, database_url=database_url, workers=1
    )
    second = WebServer(
        tmp / "web2",
        redis_url=aof_redis.url,
        database_url=database_url,
        env={"REELAY_JWT_SECRET": JWT_SECRET, "REELAY_DATA_DIR": str(stack.data_dir)},
    )
    try:
        second.start()
        yield stack, second
    finally:
        second.stop()
        stop_stack(stack)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("rt-src") / "src.mp4", duration_s=6.0)


def _export(client: httpx.Client, video: Path) -> tuple[str, str]:
    with video.open("rb") as handle:
        upload = client.post("/api/projects", files={"file": ("s.mp4", handle, "video/mp4")})
    assert upload.status_code == 201, upload.text
    project = upload.json()["id"]
    moment = client.post(f"/api/projects/{project}/moments", json={"start_s": 0.5, "end_s": 5.5})
    assert moment.status_code == 201, moment.text
    body = {"moment_ids": [moment.json()["id"]], "aspect_ratio": "9:16", "resolution": "720p"}
    export = client.post(f"/api/projects/{project}/exports", json=body)
    assert export.status_code == 202, export.text
    return str(project), str(export.json()["exports"][0]["id"])


async def _until_terminal(socket: Socket, timeout_s: float = 120) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while not any(e["type"] in TERMINAL for e in socket.events()):
        await socket.recv(timeout_s=max(deadline - time.monotonic(), 0.1))
    return socket.events()


def _ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/ws"


async def test_two_servers_one_worker_clients_see_the_same_sequence(
    stack_and_web: tuple[Stack, WebServer], source: Path
) -> None:
    stack, second = stack_and_web
    bearer = issue_token(JWT_SECRET, "alice", ttl_s=3600)
    project, _ = await asyncio.to_thread(_export, stack.client("alice"), source)
    sockets = [await open_ws(_ws_url(stack.base_url), bearer), await open_ws(second.ws_url, bearer)]
    for socket in sockets:
        await socket.send({"type": "subscribe", "project_id": project, "since": 0})
    first, other = await asyncio.gather(*(_until_terminal(s) for s in sockets))
    assert first == other
    assert [e["seq"] for e in first] == list(range(1, len(first) + 1))
    assert first[-1]["type"] == "export.completed"


async def test_redis_restart_mid_export_completes_and_clients_miss_nothing(
    stack_and_web: tuple[Stack, WebServer], aof_redis: RedisServer, source: Path
) -> None:
    stack, second = stack_and_web
    bearer = issue_token(JWT_SECRET, "alice", ttl_s=3600)
    client = stack.client("alice")
    project, export_id = await asyncio.to_thread(_export, client, source)
    sockets = [await open_ws(_ws_url(stack.base_url), bearer), await open_ws(second.ws_url, bearer)]
    for socket in sockets:
        await socket.send({"type": "subscribe", "project_id": project, "since": 0})
    watcher = sockets[0]
    while not any(e["type"] == "export.progress" for e in watcher.events()):
        await watcher.recv(timeout_s=60)
    await asyncio.to_thread(aof_redis.restart)

    for socket in sockets:
        events = await _until_terminal(socket, timeout_s=180)
        resets = [m for m in socket.received if m["type"] == "reset"]
        assert not resets, "Redis kept its data: a reset would lose the client's place"
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert events[-1]["type"] == "export.completed"
    snapshot = (await asyncio.to_thread(client.get, f"/api/exports/{export_id}")).json()
    assert snapshot["status"] == "completed" and snapshot["progress"] == 1
