"""End to end: real ``reelay dev`` workers render an export, and its completion reaches a
receiver on 127.0.0.1 signed, retried after a 500 with the same ``webhook-id``, and logged;
the export's ``notify_email`` lands in the outbox."""

from __future__ import annotations

import email
import email.policy
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.flows import add_moment, upload
from tests.e2e.stack import Stack, start_stack, stop_stack
from tests.media import make_video
from tests.webhooks.receiver import Receiver, Reply

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def hooked_stack(
    redis_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    running = start_stack(
        tmp_path_factory.mktemp("webhook-stack"),
        redis_url=redis_url,
        database_url=database_url,
        extra_env={
            "REELAY_WEBHOOKS_ALLOW_PRIVATE": "1",
            "REELAY_WEBHOOK_RETRY_SCHEDULE_S": "0.5,0.5,0.5",
            "REELAY_PUBLIC_URL": "https://clips.example.com",
        },
    )
    try:
        yield running
    finally:
        stop_stack(running)


def wait_for_file(folder: Path, timeout_s: float = 60.0) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = sorted(folder.glob("*.eml")) if folder.is_dir() else []
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no .eml in {folder}")


def test_a_completed_export_reaches_the_receiver_signed(
    hooked_stack: Stack, receiver: Receiver, tmp_path: Path
) -> None:
    client = hooked_stack.client("hooked")
    created = client.post("/api/webhooks", json={"url": receiver.url})
    assert created.status_code == 201, created.text
    webhook = created.json()
    receiver.reply(Reply(500, body=b"try later"))
    project = upload(client, make_video(tmp_path / "source.mp4", duration_s=2.0))
    moment = add_moment(client, project["id"], 0.0, 1.5)
    started = client.post(
        f"/api/projects/{project['id']}/exports",
        json={"moment_ids": [moment], "aspect_ratio": "1:1", "notify_email": "me@example.com"},
    )
    assert started.status_code == 202, started.text
    export_id = started.json()["exports"][0]["id"]

    # export.completed and batch.completed; whichever came first was answered 500 once.
    received = receiver.wait_for(3, timeout_s=120)
    by_id: dict[str, list[bytes]] = {}
    for item in received:
        event = item.verify(webhook["secret"])
        assert item.headers["webhook-id"] == event["id"]
        by_id.setdefault(event["id"], []).append(item.body)
    events = {json.loads(bodies[0])["type"]: json.loads(bodies[0]) for bodies in by_id.values()}
    assert set(events) == {"export.completed", "batch.completed"}
    completed = events["export.completed"]
    assert completed["export_id"] == export_id
    assert completed["data"]["video_url"] == f"/api/exports/{export_id}/video"
    [retried] = [bodies for bodies in by_id.values() if len(bodies) == 2]
    assert retried[0] == retried[1]

    log_url = f"/api/webhooks/{webhook['id']}/deliveries"
    # The receiver counts a request when it arrives; the log is written after the answer.
    deadline = time.monotonic() + 30
    while True:
        log = client.get(log_url).json()["deliveries"]
        if all(d["status"] != "pending" for d in log) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sorted(d["status"] for d in log) == ["succeeded", "succeeded"]
    [twice] = [d for d in log if d["attempt_count"] == 2]
    assert [a["status_code"] for a in twice["attempts"]] == [500, 200]
    assert twice["attempts"][0]["response"] == "try later"

    eml = wait_for_file(hooked_stack.data_dir / "outbox")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"] == "me@example.com"
    assert message["Subject"].startswith("Your clip is ready")
    assert f"https://clips.example.com/?project={project['id']}&export={export_id}" in str(
        message.get_body().get_content()  # type: ignore[union-attr]
    )
