"""Real ``uvicorn`` server processes for the real-time tests, restartable on the same port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from server.commands.web import EVENT_LOOP, WS_FRAME_SLACK, WS_PROTOCOL
from server.settings import Settings
from tests.conftest import free_port

JWT_SECRET = "realtime-secret-" + "r" * 32


def reelay_web_args() -> list[str]:
    """The uvicorn flags ``reelay web`` sets (server/commands/web.py), default settings."""
    max_size = Settings().ws_max_message_bytes * WS_FRAME_SLACK
    return ["--ws-per-message-deflate", "false", "--ws-max-size", str(max_size)]


@dataclass
class WebServer:
    """``create_app`` under uvicorn in a child process, talking to the given Redis and DB,
    with the WebSocket implementation and event loop ``reelay web`` uses."""

    workdir: Path
    redis_url: str
    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    ws: str = WS_PROTOCOL
    loop: str = EVENT_LOOP
    #: As ``reelay web`` runs it (see server/commands/web.py).
    uvicorn_args: list[str] = field(default_factory=reelay_web_args)
    #: Run ``reelay web`` itself instead (no test static dir; ws/loop are its own).
    reelay_web: bool = False
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def rss(self) -> int:
        assert self.process is not None
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def start(self, timeout_s: float = 30.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "REELAY_DATA_DIR": str(self.workdir / "data"),
            "REELAY_REDIS_URL": self.redis_url,
            "REELAY_DATABASE_URL": self.database_url,
            "REELAY_JWT_SECRET": JWT_SECRET,
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        args = [
            sys.executable, "-m", "uvicorn", "--factory", "tests.realtime.app_factory:make_app",
            "--host", "127.0.0.1", "--port", str(self.port), "--ws", self.ws, "--loop", self.loop,
            "--log-level", "warning", *self.uvicorn_args,
        ]  # fmt: skip
        if self.reelay_web:
            args = [sys.executable, "-m", "server.cli", "web", "--port", str(self.port)]
        log = (self.workdir / "server.log").open("ab")
        self.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""
