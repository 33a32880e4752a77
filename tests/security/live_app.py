"""The app as ``uvicorn --factory`` builds it for the fuzz run: settings from ``REELAY_*``
variables, and a webhook URL resolver that never touches DNS: every name is 127.0.0.1, so
generated hostnames register (with private targets allowed) and nothing leaves the host."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

import httpx
import redis
from starlette.applications import Starlette

from server.app import create_app


async def loopback_dns(host: str, port: int) -> Sequence[str]:
    return ["127.0.0.1"]


def create() -> Starlette:
    app = create_app()
    app.state.webhook_resolver = loopback_dns
    return app


def wait_until_up(base: str, process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """Return once the live server at ``base`` answers /healthz; raise if it exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("uvicorn did not come up")


@contextlib.contextmanager
def running_live_app(
    port: int, redis_url: str, variables: Mapping[str, str], output: IO[bytes] | None = None
) -> Iterator[str]:
    """``uvicorn tests.security.live_app:create`` in its own process with ``variables`` on
    top of the environment; yields its base URL. On the way out the process is stopped and
    the Redis database flushed, so no queued message outlives the run."""
    command = [
        sys.executable, "-m", "uvicorn", "tests.security.live_app:create", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "REELAY_REDIS_URL": redis_url, **variables}
    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(command, cwd=repo, env=env, stdout=output, stderr=output)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with redis.Redis.from_url(redis_url) as client:
            client.flushdb()
