"""``reelay dev``: the whole stack on one machine with zero set-up.

Starts an embedded Redis (unless REELAY_REDIS_URL is set), applies migrations, then runs
``reelay web``, ``reelay worker`` and ``reelay notifier`` as child processes with their
logs interleaved. Crashed workers and notifiers are restarted, and so is the embedded
Redis (same port, same append-only file); Ctrl-C (or the web process dying) stops
everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO

from server.adapters.auth import issue_token
from server.adapters.db import close_db, init_db
from server.commands.embedded_redis import (
    EmbeddedRedis,
    EmbeddedRedisError,
    start_embedded_redis,
)
from server.settings import Settings, load_settings

DEV_TOKEN_TTL_S = 12 * 3600
#: Crashed workers are restarted, like a process manager would, up to this many times
#: within the window; a web process that dies stops the stack (nothing to fall back on).
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="interface to listen on (REELAY_HOST)")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (REELAY_PORT)")
    parser.add_argument(
        "--workers", type=int, default=None, help="worker processes (default 2; 0 runs none)"
    )
    parser.add_argument("--user", default="dev", help="user the printed dev link signs in as")


async def _migrate(settings: Settings) -> None:
    await init_db(settings, apply_migrations=True)
    await close_db()


def _pump(name: str, stream: IO[bytes]) -> None:
    for raw in iter(stream.readline, b""):
        sys.stdout.write(f"{name:<7}| {raw.decode(errors='replace')}")
        sys.stdout.flush()


def _spawn(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    threading.Thread(target=_pump, args=(name, process.stdout), daemon=True).start()
    return process


def _stop(processes: list[subprocess.Popen[bytes]], timeout_s: float = 20.0) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _SupervisedChild:
    """A child process restarted when it exits, as a process manager would.

    ``exited`` names it in the restart line, ``redelivered`` says what becomes of its
    unfinished work, and ``keeps_dying`` is the line printed when it gives up.
    """

    def __init__(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        *,
        exited: str,
        redelivered: str,
        keeps_dying: str,
    ) -> None:
        self._name, self._args, self._env = name, args, env
        self._exited, self._redelivered, self._keeps_dying = exited, redelivered, keeps_dying
        self._restarts: list[float] = []
        self.process = _spawn(name, args, env)

    def keep_running(self) -> bool:
        """Restart the child if it exited; False once it exited more than MAX_RESTARTS
        times within RESTART_WINDOW_S (it is left dead)."""
        if self.process.poll() is None:
            return True
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW_S] + [now]
        if len(self._restarts) > MAX_RESTARTS:
            print(f"reelay dev: {self._keeps_dying}; stopping", flush=True)
            return False
        print(
            f"reelay dev: {self._exited} exited with code {self.process.returncode}; "
            f"restarting ({self._redelivered})",
            flush=True,
        )
        self.process = _spawn(self._name, self._args, self._env)
        return True


def _revive_redis(embedded: EmbeddedRedis) -> bool:
    """Restart a dead embedded Redis on its port and files; False when it cannot be.

    Its append-only file brings back the queues and event logs, and the workers' Redis
    clients wait the outage out (server.adapters.redis_retry), so exports in flight carry on.
    """
    print(
        f"reelay dev: Redis exited with code {embedded.returncode}; restarting it on "
        f"port {embedded.port}",
        flush=True,
    )
    try:
        embedded.restart()
    except EmbeddedRedisError as exc:
        print(f"reelay dev: Redis cannot be restarted ({exc}); stopping", flush=True)
        return False
    return True


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    settings = settings.with_(
        host=args.host or settings.host,
        port=args.port or settings.port,
        dev_workers=settings.dev_workers if args.workers is None else args.workers,
    )
    try:  # before anything starts: a user id the server would refuse stops here
        token = issue_token(settings.jwt_secret, args.user, ttl_s=DEV_TOKEN_TTL_S)
    except ValueError as exc:
        print(f"reelay dev: --user: {exc}", flush=True)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedded: EmbeddedRedis | None = None
    env = dict(os.environ)
    if not settings.redis_url:
        embedded = start_embedded_redis(settings.data_dir)
        settings = settings.with_(redis_url=embedded.url)
        print(f"reelay dev: embedded Redis at {embedded.url}", flush=True)
    env["REELAY_REDIS_URL"] = settings.redis_url or ""
    env["REELAY_DATA_DIR"] = str(settings.data_dir.resolve())
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("REELAY_LOG_FORMAT", "text")  # people read dev output; production gets JSON
    asyncio.run(_migrate(settings))
    web = _spawn("web", ["web", "--host", settings.host, "--port", str(settings.port)], env)
    children: list[_SupervisedChild] = []
    if settings.dev_workers > 0:
        worker_args = ["worker", "--processes", str(settings.dev_workers)]
        children.append(
            _SupervisedChild(
                "worker",
                worker_args,
                env,
                exited="workers",
                redelivered="their unfinished messages are redelivered",
                keeps_dying="workers keep dying",
            )
        )
    children.append(
        _SupervisedChild(
            "notify",
            ["notifier", "--processes", "1"],
            env,
            exited="notifier",
            redelivered="its unfinished deliveries are redelivered",
            keeps_dying="the notifier keeps dying",
        )
    )
    url = f"http://{settings.host}:{settings.port}/"
    print(f"reelay dev: serving {url}", flush=True)
    print(f"reelay dev: signed-in dev link {url}#token={token}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    code = 0
    try:
        while not stop.wait(0.5):
            if embedded is not None and embedded.exited() and not _revive_redis(embedded):
                code = 1
                break
            if web.poll() is not None:
                print(f"reelay dev: web exited with code {web.returncode}; stopping", flush=True)
                code = 1
                break
            if not all(child.keep_running() for child in children):
                code = 1
                break
    finally:
        _stop([web, *(child.process for child in children)])
        if embedded is not None:
            embedded.stop()
        print("reelay dev: stopped", flush=True)
    return code
