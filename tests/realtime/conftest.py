"""Real servers for the real-time tests: uvicorn child processes on the suite's Redis.

The database is a SQLite file per module (the real-time path only touches it for the
ownership check); events are appended through the real ``EventLog``, as workers do.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import RedisServer
from tests.realtime.fixtures import log, tiny_video, token  # noqa: F401
from tests.realtime.servers import WebServer


def start_server(tmp: Path, redis_url: str, database_url: str, **env: str) -> WebServer:
    server = WebServer(tmp, redis_url=redis_url, database_url=database_url, env=env)
    server.start()
    return server


@pytest.fixture(scope="module")
def server(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebServer]:
    """One server per module with short timers so idle/expiry paths run in seconds."""
    redis_server.start()
    tmp = tmp_path_factory.mktemp("rt-server")
    running = start_server(
        tmp,
        redis_server.url,
        f"sqlite://{tmp / 'db.sqlite3'}",
        REELAY_WS_PING_INTERVAL_S="1",
        REELAY_WS_AUTH_TIMEOUT_S="1",
        REELAY_WS_MAX_SUBSCRIPTIONS="2",
        REELAY_SSE_KEEPALIVE_S="0.5",
    )
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Socket:
    """A WebSocket client speaking the ``/ws`` protocol, recording what it receives.

    Server pings are answered (and recorded) unless ``auto_pong`` is off.
    """

    conn: ClientConnection
    received: list[dict[str, Any]] = field(default_factory=list)
    auto_pong: bool = True

    async def send(self, message: dict[str, Any]) -> None:
        await self.conn.send(json.dumps(message))

    async def recv(self, timeout_s: float = 5.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.conn.recv(), timeout_s)
        message: dict[str, Any] = json.loads(raw)
        self.received.append(message)
        if message["type"] == "ping" and self.auto_pong:
            await self.send({"type": "pong"})
        return message

    async def until(self, kind: str, timeout_s: float = 10.0) -> dict[str, Any]:
        return await self.until_any({kind}, timeout_s)

    async def until_any(self, kinds: set[str], timeout_s: float = 10.0) -> dict[str, Any]:
        """Receive until a message of one of ``kinds`` arrives."""
        while True:
            message = await self.recv(timeout_s)
            if message["type"] in kinds:
                return message

    def events(self, project_id: str | None = None) -> list[dict[str, Any]]:
        return [
            m["event"]
            for m in self.received
            if m["type"] == "event" and project_id in (None, m["event"]["project_id"])
        ]

    async def close(self) -> None:
        await self.conn.close()


async def open_socket(server: WebServer, user: str | None = "alice", **connect_args: Any) -> Socket:
    """Connected and, when ``user`` is given, authenticated (``ready`` received)."""
    if user is None:
        return Socket(await connect(server.ws_url, open_timeout=10, **connect_args))
    return await open_ws(server.ws_url, token(user), **connect_args)


async def open_ws(ws_url: str, bearer: str, **connect_args: Any) -> Socket:
    """A socket on ``ws_url`` authenticated with ``bearer``."""
    socket = Socket(await connect(ws_url, open_timeout=10, **connect_args))
    await socket.send({"type": "auth", "token": bearer})
    assert (await socket.recv())["type"] == "ready"
    return socket
