"""``reelay dev`` brings its embedded Redis back after ``kill -9``; exports carry on.

The real command with its own embedded Redis, SQLite, a temp data dir and two worker
processes. Mid-export the supervisor is paused (SIGSTOP) so the outage lasts long enough
to look at, its redis-server is killed with SIGKILL, and then the supervisor resumes. The
stall sweeper is set to fire only after 600 s, so an export that finishes proves the
resume came from the workers' backoff, not from the sweeper.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.flows import (
    TERMINAL,
    add_moment,
    assert_gap_free,
    start_export,
    upload,
    video_frames,
)
from tests.e2e.stack import Stack, child_pids, start_stack, stop_stack, wait_for_events
from tests.media import make_video

pytestmark = pytest.mark.timeout(300)

#: How long Redis stays dead: several of the workers' backoff steps.
OUTAGE_S = 3.0


@pytest.fixture
def dev_stack(tmp_path: Path) -> Iterator[Stack]:
    stack = start_stack(
        tmp_path / "stack",
        redis_url="",  # unset: `reelay dev` starts and supervises its embedded Redis
        database_url=f"sqlite://{tmp_path / 'reelay.sqlite3'}",
        workers=2,
        extra_env={"REELAY_STALL_AFTER_S": "600", "REELAY_SWEEP_INTERVAL_S": "1"},
    )
    try:
        yield stack
    finally:
        os.kill(stack.process.pid, signal.SIGCONT)  # never leave the supervisor paused
        stop_stack(stack)


def _redis_pid(stack: Stack) -> int:
    for pid in child_pids(stack.process.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"redis-server" in cmdline:
            return pid
    raise AssertionError("reelay dev runs no redis-server")


def _state(pid: int) -> str | None:
    """The /proc state letter of ``pid`` (``Z`` for a zombie), or None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _last_seq(client: httpx.Client, project_id: str) -> int:
    response = client.get(f"/api/projects/{project_id}/events", params={"since": 0})
    response.raise_for_status()
    return int(response.json()["last_seq"])


def _metric(client: httpx.Client, name: str) -> float:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    for line in response.text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_kill_9_of_the_embedded_redis_mid_export(dev_stack: Stack, tmp_path: Path) -> None:
    client = dev_stack.client("supervised")
    project = upload(client, make_video(tmp_path / "src.mp4", duration_s=8.0))
    moment = add_moment(client, project["id"], 0.0, 8.0)
    export = start_export(client, project["id"], [moment], "9:16", "1080p")["exports"][0]
    wait_for_events(
        client,
        project["id"],
        lambda evs: any(
            e["type"] == "export.progress" and e["data"]["chunks_done"] >= 1 for e in evs
        ),
    )
    old_redis = _redis_pid(dev_stack)
    last_seen = _last_seq(client, project["id"])

    os.kill(dev_stack.process.pid, signal.SIGSTOP)
    try:
        os.kill(old_redis, signal.SIGKILL)
        killed_at = time.monotonic()
        while _state(old_redis) != "Z":
            assert time.monotonic() - killed_at < 5, "redis-server did not die"
            time.sleep(0.05)
        assert _metric(client, "reelay_redis_up") == 0
        assert _metric(client, "reelay_database_up") == 1
        assert client.get("/readyz").status_code == 503
        time.sleep(max(0.0, killed_at + OUTAGE_S - time.monotonic()))
        assert client.get(f"/api/exports/{export['id']}").json()["status"] == "running"
    finally:
        os.kill(dev_stack.process.pid, signal.SIGCONT)

    resumed_at = time.monotonic()
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() - resumed_at < 10, "/readyz not 200 within 10 s of supervision"
        time.sleep(0.1)
    assert _state(old_redis) is None, "the dead redis-server must be reaped, not a zombie"
    assert _redis_pid(dev_stack) != old_redis
    assert _metric(client, "reelay_redis_up") == 1
    while _last_seq(client, project["id"]) == last_seen:
        assert time.monotonic() - resumed_at < 15, "the export did not resume within seconds"
        time.sleep(0.1)

    events = wait_for_events(
        client,
        project["id"],
        lambda evs: any(e["type"] in TERMINAL for e in evs),
        timeout_s=120,
    )
    time.sleep(1.0)  # anything announced twice would arrive by now
    events += client.get(
        f"/api/projects/{project['id']}/events", params={"since": events[-1]["seq"]}
    ).json()["events"]
    assert_gap_free(events)
    ends = [e["type"] for e in events if e["type"] in TERMINAL]
    assert ends == ["export.completed"], ends
    final = client.get(f"/api/exports/{export['id']}").json()
    assert final["status"] == "completed", final
    assert video_frames(client, final, tmp_path) == 240
    log = dev_stack.log()
    assert "restarting it on port" in log
    assert "planning it again" not in log, "the sweeper must not have been needed"
