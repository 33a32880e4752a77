"""A running reelay stack for end-to-end tests: ``reelay dev`` as a real subprocess.

The stack talks to the suite's private Redis and to SQLite or PostgreSQL, runs real
worker processes, and is driven over HTTP like a user would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from server.adapters.auth import issue_token
from server.commands.embedded_redis import free_port

JWT_SECRET = "e2e-secret-" + "s" * 32


@dataclass
class Stack:
    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, user: str) -> httpx.Client:
        token = issue_token(JWT_SECRET, user, ttl_s=3600)
        client = httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.clients.append(client)
        return client

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_stack(
    tmp: Path,
    *,
    redis_url: str,
    database_url: str,
    workers: int = 2,
    extra_env: dict[str, str] | None = None,
) -> Stack:
    port = free_port()
    data_dir = tmp / "data"
    env = {
        **os.environ,
        "REELAY_DATA_DIR": str(data_dir),
        "REELAY_REDIS_URL": redis_url,
        "REELAY_DATABASE_URL": database_url,
        "REELAY_JWT_SECRET": JWT_SECRET,
        "REELAY_CHUNK_S": "1",
        "REELAY_PROGRESS_MIN_INTERVAL_S": "0.1",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    tmp.mkdir(parents=True, exist_ok=True)
    log_path = tmp / "stack.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "dev", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack = Stack(f"http://127.0.0.1:{port}", data_dir, process, log_path, env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"reelay dev exited early:\n{stack.log()}")
        try:
            if httpx.get(f"{stack.base_url}/readyz", timeout=1).status_code == 200:
                return stack
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_stack(stack)
    raise RuntimeError(f"reelay dev did not become ready:\n{stack.log()}")


def stop_stack(stack: Stack) -> None:
    for client in stack.clients:
        client.close()
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGINT)
        try:
            stack.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(stack.process.pid, signal.SIGKILL)
            stack.process.wait()


def wait_for_events(
    client: httpx.Client,
    project_id: str,
    done: Any,
    *,
    timeout_s: float = 120.0,
) -> list[dict[str, Any]]:
    """Poll the events endpoint like the browser's fallback does, until ``done(events)``."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        since = events[-1]["seq"] if events else 0
        page = client.get(f"/api/projects/{project_id}/events", params={"since": since})
        page.raise_for_status()
        body = page.json()
        assert not body.get("reset"), body
        events.extend(body["events"])
        if done(events):
            return events
        time.sleep(0.2)
    raise AssertionError(f"timed out; events so far: {[e['type'] for e in events]}")


def iter_types(events: list[dict[str, Any]], export_id: str) -> Iterator[str]:
    return (e["type"] for e in events if e.get("export_id") == export_id)


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid``, read from /proc (Linux)."""
    children: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def render_worker_pids(stack: Stack) -> list[int]:
    """The Dramatiq worker processes under ``reelay dev`` → ``reelay worker``."""
    pids: list[int] = []
    for child in child_pids(stack.process.pid):
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b" worker" in cmdline:
            pids.extend(
                p for p in child_pids(child) if b"python" in Path(f"/proc/{p}/cmdline").read_bytes()
            )
    return pids
