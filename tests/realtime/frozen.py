"""A WebSocket client that handshakes, subscribes, then stops reading: a stalled browser.

Built on websockets' sans-I/O ``ClientProtocol`` over a plain socket with a tiny receive
buffer, so nothing on the client side drains the server's writes until ``drain`` is called.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri


class FrozenClient:
    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect((host, port))
        self.protocol = ClientProtocol(parse_uri(f"ws://{host}:{port}/ws"), max_size=None)
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        self.texts: list[dict[str, Any]] = []
        while not any(isinstance(e, Response) for e in self._read_some()):
            pass

    def send(self, message: dict[str, Any]) -> None:
        self.protocol.send_text(json.dumps(message).encode())
        self._flush()

    def until(self, kind: str) -> dict[str, Any]:
        while True:
            for text in self._texts(self._read_some()):
                if text["type"] == kind:
                    return text

    def drain(self, timeout_s: float) -> int | None:
        """Read everything until the server closes; the close code it sent (None: none)."""
        self.sock.settimeout(timeout_s)
        while True:
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not data:
                break
            self.protocol.receive_data(data)
            self._texts(self.protocol.events_received())
            if self.protocol.close_rcvd is not None:
                break
        rcvd = self.protocol.close_rcvd
        return None if rcvd is None else rcvd.code

    def close(self) -> None:
        self.sock.close()

    def _read_some(self) -> list[Any]:
        self.protocol.receive_data(self.sock.recv(65536))
        return list(self.protocol.events_received())

    def _texts(self, events: list[Any]) -> list[dict[str, Any]]:
        texts = [
            json.loads(e.data) for e in events if isinstance(e, Frame) and e.opcode == Opcode.TEXT
        ]
        self.texts.extend(texts)
        return texts

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            self.sock.sendall(chunk)
