"""Crashes and scale-out: several web processes, worker processes killed mid-export."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.flows import TERMINAL, add_moment, start_export, upload, video_frames
from tests.e2e.stack import Stack, free_port, render_worker_pids, wait_for_events
from tests.media import make_video

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """Fast recovery for tests: stalled after 4 s, swept every 1 s, dead workers after 5 s."""
    return {
        "REELAY_STALL_AFTER_S": "4",
        "REELAY_SWEEP_INTERVAL_S": "1",
        "REELAY_BROKER_HEARTBEAT_TIMEOUT_S": "5",
    }


def test_exports_started_through_one_web_process_are_watched_through_another(
    stack: Stack, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, **_stack_env_of(stack), "PYTHONUNBUFFERED": "1"}
    second = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        other = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=stack.client("twin").headers
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if other.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "second web process never became ready"
            time.sleep(0.2)
        first = stack.client("twin")
        project = upload(first, make_video(tmp_path / "src.mp4", duration_s=3.0))
        moment = add_moment(first, project["id"], 0.5, 2.5)
        export_id = start_export(first, project["id"], [moment], "1:1")["exports"][0]["id"]
        seen_there = wait_for_events(
            other, project["id"], lambda evs: any(e["type"] == "export.completed" for e in evs)
        )
        seen_here = first.get(f"/api/projects/{project['id']}/events").json()["events"]
        assert [e["id"] for e in seen_there] == [e["id"] for e in seen_here[: len(seen_there)]]
        assert other.get(f"/api/exports/{export_id}").json()["status"] == "completed"
        other.close()
    finally:
        second.terminate()
        second.wait(timeout=30)


def _stack_env_of(stack: Stack) -> dict[str, str]:
    return {k: v for k, v in stack.env.items() if k.startswith("REELAY_")}


def test_ten_exports_survive_three_worker_kills(stack: Stack, tmp_path: Path) -> None:
    client = stack.client("chaos")
    project = upload(client, make_video(tmp_path / "src.mp4", duration_s=6.0))
    moments = [add_moment(client, project["id"], i * 0.5, i * 0.5 + 2.0) for i in range(5)]
    exports = [
        e
        for aspect in ("9:16", "16:9")
        for e in start_export(client, project["id"], moments, aspect)["exports"]
    ]
    assert len(exports) == 10
    chaos = random.Random(7)
    for _ in range(3):
        time.sleep(chaos.uniform(0.5, 3.0))
        deadline = time.monotonic() + 30
        while not (victims := render_worker_pids(stack)):
            assert time.monotonic() < deadline, "workers did not come back"
            time.sleep(0.2)
        os.kill(chaos.choice(victims), signal.SIGKILL)

    ids = {e["id"] for e in exports}
    events = wait_for_events(
        client,
        project["id"],
        lambda evs: ids <= {e["export_id"] for e in evs if e["type"] in TERMINAL},
        timeout_s=300,
    )
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1))
    for export in exports:
        mine = [e for e in events if e.get("export_id") == export["id"]]
        types = [e["type"] for e in mine]
        assert types.count("export.completed") == 1 and "export.failed" not in types, types
        progress = [e["data"]["progress"] for e in mine if e["type"] == "export.progress"]
        assert progress == sorted(progress)
        done = client.get(f"/api/exports/{export['id']}").json()
        assert video_frames(client, done, tmp_path) == 60  # 2 s at 30 fps
