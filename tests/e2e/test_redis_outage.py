"""Redis restarted mid-export without persistence: the export completes, clients reset."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RedisServer
from tests.e2e.flows import add_moment, start_export, upload, video_frames
from tests.e2e.stack import Stack, wait_for_events
from tests.e2e.test_recovery import stack_env  # noqa: F401  (fast recovery settings)
from tests.media import make_video

pytestmark = pytest.mark.timeout(600)


def _poll_with_resets(
    client: httpx.Client, project_id: str, export_ids: set[str], timeout_s: float = 180.0
) -> tuple[list[dict[str, Any]], int]:
    """The browser's fallback loop: follow the cursor, reload the snapshot on ``reset``."""
    cursor, resets, events = 0, 0, []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            page = client.get(f"/api/projects/{project_id}/events", params={"since": cursor})
            snapshot = client.get(f"/api/projects/{project_id}/exports")
        except httpx.TransportError:
            time.sleep(0.3)
            continue
        assert page.status_code in (200, 503), page.text
        if page.status_code == 200:
            body = page.json()
            if body.get("reset"):
                resets += 1
                cursor = body["last_seq"]
            else:
                events.extend(body["events"])
                cursor = events[-1]["seq"] if body["events"] else cursor
        snapshot = client.get(f"/api/projects/{project_id}/exports").json()["exports"]
        if all(
            e["status"] in {"completed", "failed", "cancelled"}
            for e in snapshot
            if e["id"] in export_ids
        ):
            return events, resets
        time.sleep(0.3)
    raise AssertionError("exports did not end after the outage")


def test_redis_restarted_mid_export_completes_and_clients_reset(
    stack: Stack, redis_server: RedisServer, tmp_path: Path
) -> None:
    client = stack.client("outage")
    project = upload(client, make_video(tmp_path / "src.mp4", duration_s=8.0))
    moment = add_moment(client, project["id"], 0.0, 8.0)
    export_id = start_export(client, project["id"], [moment], "9:16", "1080p")["exports"][0]["id"]
    wait_for_events(
        client,
        project["id"],
        lambda evs: any(
            e["type"] == "export.progress" and e["data"]["chunks_done"] >= 2 for e in evs
        ),
    )
    redis_server.restart()  # no persistence: queues, event log and counters are gone

    _, resets = _poll_with_resets(client, project["id"], {export_id})
    export = client.get(f"/api/exports/{export_id}").json()
    assert export["status"] == "completed", export
    assert resets >= 1, "a cursor beyond the lost log must be told to reload"
    assert video_frames(client, export, tmp_path) == 240
    assert "planning it again" in stack.log()
