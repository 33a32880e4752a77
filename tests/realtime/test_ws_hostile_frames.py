"""``/ws`` frames a hostile client sends: lone surrogates, deep nesting, raw bytes, ping
bursts — an ``error`` message or a documented close, never 1011, never a traceback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.domain.events import EventLog
from tests.conftest import RedisServer
from tests.realtime.conftest import Socket, open_socket, start_server
from tests.realtime.fixtures import create_project
from tests.realtime.logwatch import LogWatch
from tests.realtime.servers import WebServer

pytestmark = pytest.mark.timeout(90)

#: Frames whose JSON escapes decode to lone UTF-16 surrogates, in every place one can be.
LONE_SURROGATE_FRAMES = [
    r'{"type":"subscribe","project_id":"\udc00","since":0}',
    r'{"type":"auth","token":"\ud800"}',
    r'{"type":"unsubscribe","project_id":"prj_\udfff"}',
    r'{"type":"\udc00"}',
    r'{"type":"ping","\ud83d":1}',
    r'{"type":"ping","nested":[{"deep":["\udbff"]}]}',
]


def nested(depth: int) -> str:
    """A ``subscribe`` whose project_id is ``depth`` arrays deep."""
    return '{"type":"subscribe","project_id":' + "[" * depth + "]" * depth + "}"


#: Past the parser's checked depth (32), and past CPython's own recursion limit.
DEEP_FRAMES = [nested(40), nested(5_000), "[" * 8_000 + "]" * 8_000]


@pytest.fixture
def watch(server: WebServer) -> Iterator[LogWatch]:
    """The server's log from the test's start; the test fails on any traceback in it."""
    watching = LogWatch(server)
    watching.mark()
    yield watching
    assert watching.problems() == []


async def close_of(socket: Socket, timeout_s: float = 10.0) -> tuple[int, str]:
    """Read until the server closes; its close code and reason."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await socket.recv(timeout_s)
    assert closed.value.rcvd is not None, "dropped without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def still_alive(socket: Socket) -> None:
    await socket.send({"type": "ping"})
    await socket.until("pong")


@pytest.mark.parametrize("frame", LONE_SURROGATE_FRAMES)
async def test_lone_surrogates_after_auth_answer_invalid_text(
    server: WebServer, watch: LogWatch, frame: str
) -> None:
    socket = await open_socket(server)
    await socket.conn.send(frame)
    error = await socket.until("error")
    assert error["code"] == "invalid_text" and "Unicode" in error["message"]
    await still_alive(socket)
    await socket.close()


@pytest.mark.parametrize("frame", LONE_SURROGATE_FRAMES)
async def test_lone_surrogates_before_auth_close_4001_naming_invalid_text(
    server: WebServer, watch: LogWatch, frame: str
) -> None:
    socket = Socket(await connect(server.ws_url))
    await socket.conn.send(frame)
    code, reason = await close_of(socket)
    assert code == 4001 and reason.startswith("invalid_text")


@pytest.mark.parametrize("frame", DEEP_FRAMES, ids=["40", "5000", "8000-bare"])
async def test_deep_nesting_after_auth_is_bad_json(
    server: WebServer, watch: LogWatch, frame: str
) -> None:
    socket = await open_socket(server)
    await socket.conn.send(frame)
    error = await socket.until("error")
    assert error["code"] == "bad_json" and "nest" in error["message"]
    await still_alive(socket)
    await socket.close()


@pytest.mark.parametrize("frame", DEEP_FRAMES, ids=["40", "5000", "8000-bare"])
async def test_deep_nesting_before_auth_closes_4001(
    server: WebServer, watch: LogWatch, frame: str
) -> None:
    socket = Socket(await connect(server.ws_url))
    await socket.conn.send(frame)
    code, reason = await close_of(socket)
    assert code == 4001 and reason.startswith("bad_json")


async def test_an_oversized_first_frame_closes_4001_without_being_parsed(
    server: WebServer, watch: LogWatch
) -> None:
    socket = Socket(await connect(server.ws_url))
    await socket.conn.send(json.dumps({"type": "auth", "token": "x" * 20_000}))
    code, reason = await close_of(socket)
    assert code == 4001 and reason.startswith("message_too_large")


@pytest.mark.parametrize("authenticated", [False, True])
async def test_a_frame_over_four_times_the_limit_is_not_buffered_and_closes_1009(
    server: WebServer, watch: LogWatch, authenticated: bool
) -> None:
    socket = await open_socket(server) if authenticated else Socket(await connect(server.ws_url))
    await socket.conn.send(json.dumps({"type": "ping", "pad": "x" * 70_000}))
    code, _ = await close_of(socket)
    assert code == 1009


async def test_a_text_frame_that_is_not_utf8_ends_the_connection_quietly(
    server: WebServer, watch: LogWatch
) -> None:
    """Raw surrogate bytes in a text frame break the WebSocket framing itself (RFC 6455
    §8.1): the connection ends — 1007, or, as uvicorn's wsproto layer does today, with no
    close frame at all — and the server goes on serving everyone else."""
    socket = await open_socket(server)
    raw = '{"type":"ping","x":"\udc00"}'.encode("utf-8", "surrogatepass")
    await socket.conn.send(raw, text=True)
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await socket.recv(10)
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1007
    again = await open_socket(server)
    await still_alive(again)
    await again.close()


@pytest.mark.parametrize(
    "project_id",
    ["prj_\x00abc", "prj abc", "\U0001f600" * 60, "é" * 150, "prj_\u202eevil"],
    ids=["nul", "space", "emoji", "accents", "bidi"],
)
async def test_project_ids_that_cannot_exist_close_4003_with_a_short_reason(
    server: WebServer, watch: LogWatch, project_id: str
) -> None:
    socket = await open_socket(server)
    await socket.send({"type": "subscribe", "project_id": project_id, "since": 0})
    code, reason = await close_of(socket)
    assert code == 4003 and reason.startswith("not your project")
    assert len(reason.encode()) <= 123


@pytest.fixture(scope="module")
def small_queue_server(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebServer]:
    """A server whose sockets may hold only 16 messages unsent: a ping burst would
    overflow it many times over if each ping queued its own pong."""
    redis_server.start()
    tmp = tmp_path_factory.mktemp("rt-small-queue")
    running = start_server(
        tmp, redis_server.url, f"sqlite://{tmp / 'db.sqlite3'}", REELAY_WS_SEND_QUEUE="16"
    )
    try:
        yield running
    finally:
        running.stop()


async def test_a_ping_burst_never_closes_a_reading_socket(
    small_queue_server: WebServer, log: EventLog, tiny_video: Path
) -> None:
    server = small_queue_server
    watch = LogWatch(server)
    watch.mark()
    project = create_project(server.base_url, "alice", tiny_video)
    socket = await open_socket(server)
    await socket.send({"type": "subscribe", "project_id": project, "since": 0})
    await socket.until("subscribed")
    reading = asyncio.create_task(socket.until("event", timeout_s=30))
    for _ in range(5_000):
        await socket.conn.send('{"type":"ping"}')
    await log.append(project, "export.queued", export_id="e1")
    event = (await reading)["event"]  # ConnectionClosed here would be the 4008 of old
    assert event["project_id"] == project and event["type"] == "export.queued"
    kinds = [m.get("code", m["type"]) for m in socket.received]
    assert "pong" in kinds and "rate_limited" in kinds
    await asyncio.sleep(0.3)  # the ping budget refills
    await still_alive(socket)
    await socket.close()
    assert watch.problems() == []
