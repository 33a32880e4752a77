"""SIGTERM on a web process: its sockets are closed with a code that means "reconnect"."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from websockets.exceptions import ConnectionClosed

from tests.conftest import RedisServer
from tests.realtime.conftest import open_socket
from tests.realtime.servers import WebServer

#: 1012 "service restart" (uvicorn on shutdown) and 1001 "going away" both tell the
#: client to reconnect — to another process behind the load balancer.
RECONNECT_CODES = {1001, 1012}


async def test_sigterm_closes_sockets_with_a_reconnect_code_and_exits(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    redis_server.start()
    server = WebServer(
        tmp_path, redis_url=redis_server.url, database_url=f"sqlite://{tmp_path / 'db.sqlite3'}"
    )
    server.reelay_web = True  # the production command, with its own WebSocket stack
    server.start()
    try:
        socket = await open_socket(server)
        assert server.process is not None
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        try:
            while True:
                await socket.recv(timeout_s=10)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
        assert code in RECONNECT_CODES, code
        await asyncio.to_thread(server.process.wait, 15)
        assert time.monotonic() - started < 15
    finally:
        server.stop()
