"""Webhook deliveries never take render capacity, on a real ``reelay dev`` stack (one render
worker process with one thread, one notifier process).

One user's ten endpoints point at a receiver that hangs; another user's export is picked
up and completes while those requests are still held, unanswered. No timing assertions:
the order of things proves it. The receiver also counts concurrent requests, so the caps
are checked there, and a notifier killed with SIGKILL mid-POST gets its slots back.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.flows import add_moment, upload
from tests.e2e.stack import Stack, child_pids, start_stack, stop_stack, wait_for_events
from tests.media import make_video
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.timeout(300)

ENDPOINTS = 10
PER_USER = 5


def _stack(tmp: Path, redis_url: str, database_url: str, env: dict[str, str]) -> Iterator[Stack]:
    running = start_stack(
        tmp,
        redis_url=redis_url,
        database_url=database_url,
        workers=1,
        extra_env={"REELAY_WEBHOOKS_ALLOW_PRIVATE": "1", "REELAY_WORKER_THREADS": "1", **env},
    )
    try:
        yield running
    finally:
        stop_stack(running)


@pytest.fixture
def slow_receiver_stack(redis_url: str, database_url: str, tmp_path: Path) -> Iterator[Stack]:
    yield from _stack(
        tmp_path / "stack",
        redis_url,
        database_url,
        {
            "REELAY_WEBHOOK_TIMEOUT_S": "60",
            "REELAY_WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT": "1",
            "REELAY_WEBHOOK_MAX_IN_FLIGHT_PER_USER": str(PER_USER),
        },
    )


def _export(stack: Stack, user: str, source: Path) -> tuple[str, str]:
    """Start one short export for ``user``; returns (project id, export id)."""
    client = stack.client(user)
    project = upload(client, source)
    moment = add_moment(client, project["id"], 0.0, 1.0)
    started = client.post(
        f"/api/projects/{project['id']}/exports",
        json={"moment_ids": [moment], "aspect_ratio": "1:1", "resolution": "720p"},
    )
    assert started.status_code == 202, started.text
    return project["id"], started.json()["exports"][0]["id"]


def _wait_completed(stack: Stack, user: str, project_id: str, export_id: str) -> None:
    def done(events: list[dict[str, object]]) -> bool:
        ends = [e for e in events if e.get("export_id") == export_id]
        assert not any(e["type"] == "export.failed" for e in ends), ends
        return any(e["type"] == "export.completed" for e in ends)

    wait_for_events(stack.client(user), project_id, done, timeout_s=120)


def test_another_users_export_completes_while_ten_slow_endpoints_hang(
    slow_receiver_stack: Stack, receiver: Receiver, tmp_path: Path
) -> None:
    stack = slow_receiver_stack
    source = make_video(tmp_path / "source.mp4", duration_s=2.0)
    noisy = stack.client("noisy-user")
    hooks = []
    for index in range(ENDPOINTS):
        created = noisy.post("/api/webhooks", json={"url": f"{receiver.url}/{index}"})
        assert created.status_code == 201, created.text
        hooks.append(created.json()["id"])
    receiver.close_gate()

    noisy_project, noisy_export = _export(stack, "noisy-user", source)
    _wait_completed(stack, "noisy-user", noisy_project, noisy_export)
    # Its export.completed and batch.completed go to ten endpoints: 20 deliveries, of
    # which the user's cap lets 5 be in flight at once — all in one notifier process.
    receiver.wait_until(lambda: receiver.held() == PER_USER, "5 held deliveries")

    quiet_project, quiet_export = _export(stack, "quiet-user", source)
    _wait_completed(stack, "quiet-user", quiet_project, quiet_export)
    assert receiver.held() == PER_USER and receiver.answered == 0  # still hanging

    receiver.open_gate()
    receiver.wait_until(lambda: receiver.answered == 2 * ENDPOINTS, "all 20 deliveries")
    assert receiver.peak_total == PER_USER
    assert max(receiver.peak.values()) == 1  # per endpoint
    for hook in hooks:
        log = noisy.get(f"/api/webhooks/{hook}/deliveries").json()["deliveries"]
        # Waiting for a slot is no failed attempt: each delivery went through once.
        assert sorted((d["status"], d["attempt_count"]) for d in log) == [("succeeded", 1)] * 2
    assert "Traceback" not in stack.log()


@pytest.fixture
def crashy_stack(redis_url: str, database_url: str, tmp_path: Path) -> Iterator[Stack]:
    yield from _stack(
        tmp_path / "stack",
        redis_url,
        database_url,
        {
            "REELAY_WEBHOOK_TIMEOUT_S": "2",  # leases last 2 s + the margin
            "REELAY_WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT": "1",
            "REELAY_BROKER_HEARTBEAT_TIMEOUT_S": "3",
        },
    )


def _notifier_processes(stack: Stack) -> list[int]:
    """The Dramatiq processes under ``reelay dev`` → ``reelay notifier``."""
    pids: list[int] = []
    for child in child_pids(stack.process.pid):
        if b" notifier" in Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" "):
            pids.append(child)
            pids.extend(child_pids(child))
    return pids


def test_a_killed_notifiers_slots_come_back(crashy_stack: Stack, receiver: Receiver) -> None:
    stack = crashy_stack
    client = stack.client("crashy-user")
    created = client.post("/api/webhooks", json={"url": receiver.url})
    assert created.status_code == 201, created.text
    hook = created.json()["id"]
    receiver.close_gate()
    first = client.post(f"/api/webhooks/{hook}/test")
    assert first.status_code == 202, first.text
    receiver.wait_until(lambda: receiver.held() == 1, "the first test delivery")

    victims = _notifier_processes(stack)
    assert victims
    for pid in victims:
        os.kill(pid, signal.SIGKILL)  # the endpoint's only slot is now held by the dead
    receiver.open_gate()
    # reelay dev starts a new notifier; a second delivery needs the same slot.
    second = client.post(f"/api/webhooks/{hook}/test")
    assert second.status_code == 202, second.text

    deadline = time.monotonic() + 90
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        log = client.get(f"/api/webhooks/{hook}/deliveries").json()["deliveries"]
        statuses = {d["id"]: d["status"] for d in log}
        if list(statuses.values()) == ["succeeded", "succeeded"]:
            break
        time.sleep(0.5)
    assert statuses == {
        first.json()["id"]: "succeeded",
        second.json()["id"]: "succeeded",
    }
    assert "notifier exited" in stack.log()
    assert set(_notifier_processes(stack)).isdisjoint(victims)
    assert "Traceback" not in stack.log()
