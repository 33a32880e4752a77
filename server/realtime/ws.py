"""``WS /ws``: origin check, the auth handshake, then the tasks of a socket.

- reader: client frames → ``Session.handle``, reading the next frame only while the outbox
  is at most half full, so replies to a client's own frames wait for it to read them
  (TCP back-pressure) instead of overflowing the outbox;
- writer: the bounded ``Outbox`` → the socket; an overflow closes with 4008 even while a
  send is stuck behind a peer that stopped reading;
- watchdog: pings a socket idle for ``ws_ping_interval_s``, drops one silent for another
  interval, and closes with 4001 when the token expires without a fresh ``auth``.

Origin: browsers send ``Origin``; it must be listed in ``REELAY_ALLOWED_ORIGINS``, or, when
that list is empty, match the ``Host`` the socket was opened on (same origin only).
Clients that send no ``Origin`` (servers, scripts) are let through — the token decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from server.adapters.auth import User
from server.http.services import Services, services
from server.realtime.frames import BadFrame, encode, parse
from server.realtime.hub import hub_of
from server.realtime.outbox import Outbox
from server.realtime.session import Close, Session, authenticate, seconds_left
from server.text import safe_text

log = logging.getLogger(__name__)

#: How long a close frame may wait behind a peer that stopped reading.
CLOSE_TIMEOUT_S = 10.0

#: A close frame's reason is at most 123 bytes of UTF-8 (RFC 6455 §5.5).
MAX_CLOSE_REASON_BYTES = 123


def origin_allowed(origin: str | None, host: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether a browser page at ``origin`` may open a socket on ``host``."""
    if origin is None:
        return True
    if allowed:
        return "*" in allowed or origin.rstrip("/") in {o.rstrip("/") for o in allowed}
    return bool(host) and urlsplit(origin).netloc.lower() == (host or "").lower()


async def websocket_endpoint(websocket: WebSocket) -> None:
    svc = services(websocket)
    settings = svc.settings
    if not origin_allowed(
        websocket.headers.get("origin"), websocket.headers.get("host"), settings.allowed_origins
    ):
        await websocket.close(code=1008, reason="origin not allowed")
        return
    await websocket.accept()
    hub = hub_of(websocket)
    try:
        user, deadline = await _first_auth(websocket, svc.settings.ws_auth_timeout_s, svc)
    except Close as close:
        await _close(websocket, close)
        return
    except WebSocketDisconnect:
        return
    if hub.local_sockets[user.id] >= settings.ws_max_sockets_per_user:
        limit = settings.ws_max_sockets_per_user
        await _close(websocket, Close(1008, f"at most {limit} sockets per user"))
        return
    hub.local_sockets[user.id] += 1
    session = Session(svc, hub, Outbox(settings.ws_send_queue), user, deadline)
    session.outbox.push(encode({"type": "ready"}))
    try:
        await _run(websocket, session, settings.ws_ping_interval_s)
    finally:
        await session.close()
        hub.local_sockets[user.id] -= 1
        if hub.local_sockets[user.id] <= 0:
            del hub.local_sockets[user.id]


async def _first_auth(websocket: WebSocket, timeout_s: float, svc: Services) -> tuple[User, float]:
    """The first frame must be ``auth`` with a valid token, within ``timeout_s``.

    Any other first frame closes 4001, the reason starting with the code a later frame
    would get as an ``error`` (``bad_json``, ``invalid_text``, ``message_too_large``, …).
    """
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout_s)
    except TimeoutError as exc:
        raise Close(4001, "no auth message in time") from exc
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    try:
        frame = parse(message, svc.settings.ws_max_message_bytes)
    except BadFrame as bad:
        raise Close(4001, f"{bad.code}: the first message must be auth; {bad.message}") from bad
    if frame["type"] != "auth":
        raise Close(4001, "the first message must be auth")
    return await authenticate(svc, frame.get("token"))


async def _run(websocket: WebSocket, session: Session, ping_interval_s: float) -> None:
    last_seen = [time.monotonic()]
    writer = asyncio.create_task(_writer(websocket, session.outbox))
    session.outbox.on_overflow = writer.cancel  # even a send stuck on a full socket stops
    tasks = [
        asyncio.create_task(_reader(websocket, session, last_seen)),
        writer,
        asyncio.create_task(_watchdog(session, last_seen, ping_interval_s)),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if session.outbox.overflowed:
        await _close(websocket, Close(4008, "too slow to keep up"))
        return
    for task in done:
        problem = None if task.cancelled() else task.exception()
        if isinstance(problem, Close):
            await _close(websocket, problem)
            return
        if problem is not None and not isinstance(problem, WebSocketDisconnect):
            log.error("ws: session failed", exc_info=problem)
            await _close(websocket, Close(1011, "internal error"))
            return


async def _reader(websocket: WebSocket, session: Session, last_seen: list[float]) -> None:
    while True:
        await session.outbox.room()
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        last_seen[0] = time.monotonic()
        await session.handle(message)


async def _writer(websocket: WebSocket, outbox: Outbox) -> None:
    while True:
        text = await outbox.get()
        try:
            await websocket.send_text(text)
        except RuntimeError as exc:
            # uvicorn already closed the connection itself (1009 for an oversized frame, a
            # protocol error) and refuses further sends: the socket is gone, as if the peer
            # had left — not a failure of ours to log.
            raise WebSocketDisconnect(1006) from exc


async def _watchdog(session: Session, last_seen: list[float], interval_s: float) -> None:
    """Ping idle sockets, drop silent ones, and enforce the token's expiry."""
    pinged_at: float | None = None
    while True:
        now = time.monotonic()
        idle = now - last_seen[0]
        if pinged_at is not None and last_seen[0] < pinged_at and now - pinged_at >= interval_s:
            raise Close(1001, "no answer to ping")
        if pinged_at is not None and last_seen[0] >= pinged_at:
            pinged_at = None
        if pinged_at is None and idle >= interval_s:
            session.outbox.push(encode({"type": "ping"}))
            pinged_at = now
        left = seconds_left(session.deadline)
        if left <= 0:
            raise Close(4001, "token expired")
        next_check = interval_s - idle if pinged_at is None else interval_s - (now - pinged_at)
        await asyncio.sleep(max(min(next_check, left, interval_s), 0.05))


async def _close(websocket: WebSocket, close: Close) -> None:
    """Send the close frame; a peer that reads nothing gets CLOSE_TIMEOUT_S, then the server
    returns and its transport is closed (the socket holds at most one write buffer)."""
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError, TimeoutError):
        await asyncio.wait_for(
            websocket.close(code=close.code, reason=close_reason(close.reason)), CLOSE_TIMEOUT_S
        )


def close_reason(reason: str) -> str:
    """``reason`` as valid text cut to what a close frame can carry (whole characters)."""
    raw = safe_text(reason).encode("utf-8")[:MAX_CLOSE_REASON_BYTES]
    return raw.decode("utf-8", "ignore")
