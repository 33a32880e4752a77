"""A real webhook receiver on 127.0.0.1: answers from a script and keeps what it got.

``http.server`` in a thread, so both async tests and subprocess stacks can POST to it.
``close_gate`` makes it hold every request unanswered until ``open_gate`` (a receiver that
hangs); it counts requests in flight, now and at the peak, in total and per path.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook

#: A held request is answered after this long even if the gate stays closed, so a test
#: that fails mid-way never leaves threads hanging for ever.
MAX_HOLD_S = 120.0


@dataclass(frozen=True)
class Reply:
    status: int = 200
    delay_s: float = 0.0
    body: bytes = b"ok"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def verify(self, secret: str) -> Any:
        """The parsed event if the Standard Webhooks signature is valid, else it raises."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    script: deque[Reply] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: threading.Event = field(default_factory=threading.Event)
    in_flight: Counter[str] = field(default_factory=Counter)
    peak: Counter[str] = field(default_factory=Counter)
    peak_total: int = 0
    answered: int = 0

    def __post_init__(self) -> None:
        self.gate.set()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def reply(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies`` in order, then 200."""
        with self.lock:
            self.script.extend(replies)

    def next_reply(self) -> Reply:
        with self.lock:
            return self.script.popleft() if self.script else Reply()

    def record(self, item: Received) -> None:
        with self.lock:
            self.received.append(item)

    def close_gate(self) -> None:
        """Hold every request from now on, unanswered, until ``open_gate``."""
        self.gate.clear()

    def open_gate(self) -> None:
        self.gate.set()

    def held(self) -> int:
        """Requests in flight now (received, not yet answered)."""
        with self.lock:
            return sum(self.in_flight.values())

    def enter(self, path: str) -> None:
        with self.lock:
            self.in_flight[path] += 1
            self.peak[path] = max(self.peak[path], self.in_flight[path])
            self.peak_total = max(self.peak_total, sum(self.in_flight.values()))

    def leave(self, path: str, answered: bool) -> None:
        with self.lock:
            self.in_flight[path] -= 1
            self.answered += answered

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"receiver got {len(self.received)} requests, wanted {count}")

    def wait_until(self, check: Any, what: str, timeout_s: float = 60.0) -> None:
        """Poll ``check()`` until it is true; fail naming ``what`` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")


def _handler(receiver_box: list[Receiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = receiver_box[0]
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            receiver.enter(self.path)
            answered = False
            try:
                receiver.record(Received(self.path, headers, body))
                receiver.gate.wait(MAX_HOLD_S)
                reply = receiver.next_reply()
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                answered = True
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up waiting (a timeout test): nobody reads this
            finally:
                receiver.leave(self.path, answered)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def start_receiver() -> Receiver:
    box: list[Receiver] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(box))
    server.daemon_threads = True
    receiver = Receiver(server)
    box.append(receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver
