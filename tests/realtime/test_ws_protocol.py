"""``/ws`` against a real server process and Redis: replay, live, auth, limits, errors."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.domain.events import EventLog
from tests.realtime.conftest import Socket, open_socket
from tests.realtime.fixtures import create_project, token
from tests.realtime.servers import WebServer

pytestmark = pytest.mark.timeout(60)


async def close_code(socket: Socket, timeout_s: float = 10.0) -> int:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await socket.recv(timeout_s)
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code


async def test_replay_then_live_with_events_published_during_the_switch(
    server: WebServer, log: EventLog, tiny_video: Path
) -> None:
    project = create_project(server.base_url, "alice", tiny_video)
    for _ in range(150):
        await log.append(project, "export.progress", export_id="e1", data={"progress": 0.1})

    async def publish(count: int) -> None:
        for _ in range(count):
            await log.append(project, "export.progress", export_id="e1", data={"progress": 0.2})
            await asyncio.sleep(0)

    sockets = [await open_socket(server) for _ in range(4)]
    publisher = asyncio.create_task(publish(250))
    for index, socket in enumerate(sockets):
        await socket.send({"type": "subscribe", "project_id": project, "since": index * 40})
        await asyncio.sleep(0.01)
    await publisher
    for index, socket in enumerate(sockets):
        while not socket.events() or socket.events()[-1]["seq"] < 400:
            await socket.recv()
        if not any(m["type"] == "subscribed" for m in socket.received):
            await socket.until("subscribed")
        seqs = [event["seq"] for event in socket.events()]
        assert seqs == list(range(index * 40 + 1, 401)), f"socket {index}: gap or duplicate"
        kinds = [m["type"] for m in socket.received]
        assert kinds.count("subscribed") == 1
        await socket.close()


async def test_several_projects_per_socket_and_unsubscribe(
    server: WebServer, log: EventLog, tiny_video: Path
) -> None:
    first = create_project(server.base_url, "alice", tiny_video)
    second = create_project(server.base_url, "alice", tiny_video)
    socket = await open_socket(server)
    for project in (first, second):
        await socket.send({"type": "subscribe", "project_id": project, "since": 0})
        await socket.until("subscribed")
    await log.append(first, "export.queued", export_id="a")
    await log.append(second, "export.queued", export_id="b")
    await socket.until("event")
    await socket.until("event")
    assert {e["project_id"] for e in socket.events()} == {first, second}
    await socket.send({"type": "unsubscribe", "project_id": first})
    assert (await socket.until("unsubscribed"))["project_id"] == first
    await log.append(first, "export.started", export_id="a")
    await log.append(second, "export.started", export_id="b")
    event = (await socket.until("event"))["event"]
    assert event["project_id"] == second and event["seq"] == 2
    await socket.send({"type": "ping"})
    await socket.until("pong")
    assert [e["project_id"] for e in socket.events()].count(first) == 1
    await socket.close()


async def test_reconnect_with_cursor_after_a_forced_disconnect_misses_nothing(
    server: WebServer, log: EventLog, tiny_video: Path
) -> None:
    project = create_project(server.base_url, "alice", tiny_video)
    socket = await open_socket(server)
    await socket.send({"type": "subscribe", "project_id": project, "since": 0})
    await socket.until("subscribed")
    for _ in range(5):
        await log.append(project, "export.progress", export_id="e1")
    while len(socket.events()) < 5:
        await socket.recv()
    socket.conn.transport.abort()  # the network drops: no close handshake
    for _ in range(7):
        await log.append(project, "export.progress", export_id="e1")
    cursor = socket.events()[-1]["seq"]
    again = await open_socket(server)
    await again.send({"type": "subscribe", "project_id": project, "since": cursor})
    await again.until("subscribed")
    await log.append(project, "export.completed", export_id="e1")
    while not again.events() or again.events()[-1]["seq"] < 13:
        await again.recv()
    seqs = [e["seq"] for e in socket.events()] + [e["seq"] for e in again.events()]
    assert seqs == list(range(1, 14))


async def test_another_users_project_closes_4003(server: WebServer, tiny_video: Path) -> None:
    project = create_project(server.base_url, "alice", tiny_video)
    socket = await open_socket(server, "bob")
    await socket.send({"type": "subscribe", "project_id": project, "since": 0})
    assert await close_code(socket) == 4003
    missing = await open_socket(server, "bob")
    await missing.send({"type": "subscribe", "project_id": "prj_nope", "since": 0})
    assert await close_code(missing) == 4003


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_message"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "subscribe", "project_id": 7}', "bad_message"),
        ('{"type": "subscribe", "project_id": "p", "since": -1}', "bad_message"),
        ('{"type": "unsubscribe", "project_id": "never"}', "not_subscribed"),
        (json.dumps({"type": "ping", "pad": "x" * 20_000}), "message_too_large"),
        (b"\x00\x01", "bad_message"),
    ],
)
async def test_malformed_frames_get_an_error_and_the_socket_survives(
    server: WebServer, frame: str | bytes, code: str
) -> None:
    socket = await open_socket(server)
    await socket.conn.send(frame)
    error = await socket.until("error")
    assert error["code"] == code and error["message"]
    await socket.send({"type": "ping"})
    await socket.until("pong")
    await socket.close()


async def test_token_refresh_keeps_the_socket_and_expiry_closes_4001(server: WebServer) -> None:
    # The server allows LEEWAY_S (30 s) of clock skew: a token that "expired" 28 s ago has
    # about 2 s left.
    socket = Socket(await connect(server.ws_url))
    await socket.send({"type": "auth", "token": token("alice", ttl_s=0, now=time.time() - 28)})
    await socket.until("ready")
    await asyncio.sleep(1)
    await socket.send({"type": "auth", "token": token("alice", ttl_s=0, now=time.time() - 27)})
    await socket.until("ready")
    await asyncio.sleep(1.5)  # past the first token's end
    await socket.send({"type": "ping"})
    await socket.until("pong")
    started = time.monotonic()
    assert await close_code(socket) == 4001
    assert time.monotonic() - started < 3


async def test_refresh_with_another_users_token_closes_4001(server: WebServer) -> None:
    socket = await open_socket(server, "alice")
    await socket.send({"type": "auth", "token": token("bob")})
    assert await close_code(socket) == 4001


@pytest.mark.parametrize(
    "first",
    [
        None,  # nothing within the auth deadline (1 s on this server)
        {"type": "ping"},
        {"type": "auth", "token": "not-a-jwt"},
        {"type": "auth", "token": token("alice", ttl_s=0, now=time.time() - 120)},
    ],
)
async def test_auth_first_or_4001(server: WebServer, first: dict[str, str] | None) -> None:
    socket = Socket(await connect(server.ws_url))
    if first is not None:
        await socket.send(first)
    assert await close_code(socket) == 4001


async def test_server_pings_idle_sockets_and_drops_silent_ones(server: WebServer) -> None:
    socket = await open_socket(server)
    socket.auto_pong = False
    message = await socket.recv(timeout_s=3)  # ping interval is 1 s on this server
    assert message["type"] == "ping"
    await socket.send({"type": "pong"})
    assert (await socket.recv(timeout_s=3))["type"] == "ping"  # alive, so pinged again
    with pytest.raises(ConnectionClosed) as closed:
        await socket.recv(timeout_s=5)  # say nothing: dropped
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("http://evil.example", False), (None, True), ("http://127.0.0.1:{port}", True)],
)
async def test_origin_must_be_this_host_when_no_origins_are_configured(
    server: WebServer, origin: str | None, allowed: bool
) -> None:
    headers = {"Origin": origin.format(port=server.port)} if origin else {}
    if not allowed:
        with pytest.raises(Exception, match="403"):
            await connect(server.ws_url, additional_headers=headers)
        return
    socket = await open_socket(server, additional_headers=headers)
    await socket.close()


async def test_subscription_limit_answers_an_error(server: WebServer, tiny_video: Path) -> None:
    socket = await open_socket(server)
    projects = [create_project(server.base_url, "alice", tiny_video) for _ in range(3)]
    for project in projects:
        await socket.send({"type": "subscribe", "project_id": project, "since": 0})
    codes = []
    for _ in range(3):
        message = await socket.until_any({"subscribed", "error"})
        codes.append(message.get("code", message["type"]))
    assert codes.count("subscribed") == 2 and codes.count("too_many_subscriptions") == 1
    await socket.close()
