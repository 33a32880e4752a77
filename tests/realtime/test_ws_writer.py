"""The socket writer: a send refused because uvicorn already closed the connection itself
(1009 for an oversized frame) ends the session like a departed peer, not as our error."""

from __future__ import annotations

from typing import Any, cast

import pytest
from starlette.websockets import WebSocket, WebSocketDisconnect

from server.realtime.outbox import Outbox
from server.realtime.ws import _writer


class ClosedByServer:
    """What uvicorn's wsproto layer does once it has sent a close frame of its own."""

    async def send_text(self, data: str) -> None:
        raise RuntimeError(
            "Unexpected ASGI message 'websocket.send', after sending 'websocket.close'."
        )


async def test_a_send_after_uvicorns_own_close_is_a_disconnect_not_a_failure() -> None:
    outbox = Outbox(8)
    outbox.push('{"type":"pong"}')
    with pytest.raises(WebSocketDisconnect) as raised:
        await _writer(cast(WebSocket, ClosedByServer()), outbox)
    assert raised.value.code == 1006


class Broken:
    async def send_text(self, data: str) -> Any:
        raise ValueError("a bug of ours")


async def test_any_other_send_failure_still_surfaces() -> None:
    outbox = Outbox(8)
    outbox.push('{"type":"pong"}')
    with pytest.raises(ValueError):
        await _writer(cast(WebSocket, Broken()), outbox)
