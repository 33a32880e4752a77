"""Property: whatever frames a client sends ``/ws``, before or after ``auth``, the socket
is kept (answering ``error`` messages) or closed with a documented 4xxx/1008/1009 code —
never 1011, never dropped by a server failure, never a traceback in the server's log —
and the server still serves a fresh client afterwards.

Frames are JSON text with arbitrary Unicode (lone surrogates included, as the raw
``\\udXXX`` escapes a hostile client would send), nesting, sizes and wrong types in every
field of ``auth``/``subscribe``/``unsubscribe``/``ping``/``pong``, plus non-JSON text,
binary frames and oversized frames.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.commands.web import WS_FRAME_SLACK
from server.settings import Settings
from tests.realtime.conftest import Socket, open_socket
from tests.realtime.fixtures import create_project, token
from tests.realtime.logwatch import LogWatch
from tests.realtime.servers import WebServer

pytestmark = pytest.mark.timeout(120)

#: Close codes a hostile frame may end a socket with (docs/api.md, ``WS /ws``).
CLOSES_BEFORE_AUTH = {4001, 1009}
CLOSES_AFTER_AUTH = {4001, 4003, 1008, 1009}

#: Frames over this are refused by uvicorn (1009) before the app sees them; it closes the
#: transport at once, so a client still sending may see a reset instead of the close frame.
UVICORN_MAX_FRAME = Settings().ws_max_message_bytes * WS_FRAME_SLACK

MESSAGE_TYPES = ["auth", "subscribe", "unsubscribe", "ping", "pong"]

#: Any code point, lone surrogates (category Cs) included.
characters = st.characters(exclude_categories=()) | st.characters(categories=["Cs"])
texts = st.text(characters, max_size=24)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


#: Values near the valid ones for each field (any JSON value is drawn too).
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "token": texts | st.just("e30.e30.sig") | st.text("abc.-_", min_size=1, max_size=300),
    # Strings an ID could be (looked up, not found: 4003) and strings it cannot be.
    "project_id": st.one_of(
        st.from_regex(r"[A-Za-z0-9_-]{1,60}", fullmatch=True),
        st.from_regex(r"prj_[A-Za-z0-9_-]{16}", fullmatch=True),
        texts,
    ),
    "since": st.integers(0, 2**53 - 1) | st.integers(-(2**60), 2**60),
}


def deeply_nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@st.composite
def protocol_messages(draw: st.DrawFn) -> str:
    """One of the protocol's messages with any (or no) value in each of its fields."""
    known = st.sampled_from(MESSAGE_TYPES)
    message: dict[str, Any] = {"type": draw(st.one_of(known, known, known, texts))}
    for name in draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), unique=True)):
        message[name] = draw(st.one_of(FIELD_VALUES[name], FIELD_VALUES[name], json_values))
    extra = draw(st.dictionaries(texts, json_values, max_size=2))
    text = json.dumps({**extra, **message})  # ensure_ascii: surrogates as \\udXXX escapes
    depth = draw(st.sampled_from([0, 0, 0, 33, 900, 5_000]))
    if depth:
        text = text[:-1] + ',"deep":' + deeply_nested(depth) + "}"
    return text


#: Each kind of frame equally often (``one_of`` favours its first branches).
FRAME_KINDS: list[st.SearchStrategy[str | bytes]] = [
    protocol_messages(),
    st.builds(  # well-formed subscribes: the ownership lookup with any project_id
        lambda project_id, since: json.dumps(
            {"type": "subscribe", "project_id": project_id, "since": since}
        ),
        FIELD_VALUES["project_id"],
        FIELD_VALUES["since"],
    ),
    json_values.map(json.dumps),
    st.text(max_size=40),  # not JSON at all
    st.binary(max_size=40),  # binary frames
    st.integers(16_000, 70_000).map(lambda n: json.dumps({"type": "ping", "pad": "x" * n})),
    st.integers(1, 8_000).map(deeply_nested),
]
frames = st.sampled_from(FRAME_KINDS).flatmap(lambda kind: kind)


async def send_and_probe(socket: Socket, sent: list[str | bytes], marker: str) -> int | None:
    """Send ``sent``, then an unknown type named ``marker``; None when the socket answers the
    marker (still open), else the close code (0: dropped without a close frame)."""
    try:
        for frame in sent:
            await socket.conn.send(frame)
        await socket.send({"type": marker})
        while True:
            message = await socket.recv(10)
            if message["type"] == "error" and marker in message["message"]:
                return None
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else 0


@pytest.fixture(scope="module")
def module_log(server: WebServer) -> LogWatch:
    """The server's log from this module's first test on."""
    watching = LogWatch(server)
    watching.mark()
    return watching


@settings(
    derandomize=True,
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sent=st.lists(frames, min_size=1, max_size=4), authenticated=st.booleans())
async def test_any_frames_get_errors_or_a_documented_close(
    server: WebServer, module_log: LogWatch, sent: list[str | bytes], authenticated: bool
) -> None:
    watch = LogWatch(server)
    watch.mark()
    if authenticated:
        socket = await open_socket(server)
    else:
        socket = Socket(await connect(server.ws_url, open_timeout=10))
    code = await send_and_probe(socket, sent, "probe-end")
    await socket.close()
    event(("kept open" if code is None else f"closed {code}") + f" auth={authenticated}")
    allowed = CLOSES_AFTER_AUTH | {None} if authenticated else CLOSES_BEFORE_AUTH
    if any(len(frame) > UVICORN_MAX_FRAME for frame in sent):
        allowed = allowed | {0}
    assert code in allowed, code
    assert watch.problems() == []


async def test_after_the_hostile_frames_a_fresh_client_is_served(
    server: WebServer, module_log: LogWatch, tiny_video: Path
) -> None:
    project = create_project(server.base_url, "alice", tiny_video)
    socket = Socket(await connect(server.ws_url, open_timeout=10))
    await socket.send({"type": "auth", "token": token("alice")})
    await socket.until("ready")
    await socket.send({"type": "subscribe", "project_id": project, "since": 0})
    assert (await socket.until("subscribed"))["project_id"] == project
    await socket.close()
    assert module_log.problems() == []
