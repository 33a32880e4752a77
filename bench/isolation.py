"""Benchmark: webhook deliveries never take render capacity (issue: hardening, finding 3).

One ``reelay dev`` stack with ONE render worker process of one thread and one notifier.
A "quiet" user's 3 s export is timed (POST to ``completed``) alone, and again while a
"noisy" user's ten endpoints point at a receiver that hangs every request until the
webhook timeout (10 s) — the deliveries are in flight for the whole export. Runs are
interleaved (alone, beside, alone, …), three of each; prints the medians and the ratio
beside / alone (goal ≤ 1.10).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.commands.embedded_redis import start_embedded_redis
from tests.e2e.flows import add_moment, upload
from tests.e2e.stack import Stack, start_stack, stop_stack
from tests.media import make_video
from tests.webhooks.receiver import Receiver, start_receiver

RUNS = 3
ENDPOINTS = 10
TESTS_PER_ENDPOINT = 2  # 20 deliveries: more than the per-user cap of 16 in flight
MOMENT_S = 3.0
PER_USER_CAP = 16  # REELAY_WEBHOOK_MAX_IN_FLIGHT_PER_USER's default, which the stack keeps


def _time_export(client: httpx.Client, project_id: str, moment_id: str) -> float:
    """Seconds from POST /exports to the export reading ``completed``."""
    started = time.perf_counter()
    response = client.post(
        f"/api/projects/{project_id}/exports",
        json={"moment_ids": [moment_id], "aspect_ratio": "9:16", "resolution": "720p"},
    )
    response.raise_for_status()
    export_id = response.json()["exports"][0]["id"]
    deadline = started + 300
    while time.perf_counter() < deadline:
        export = client.get(f"/api/exports/{export_id}").json()
        if export["status"] == "completed":
            return time.perf_counter() - started
        if export["status"] in {"failed", "cancelled"}:
            raise RuntimeError(f"export {export_id} ended {export['status']}: {export['error']}")
        time.sleep(0.02)
    raise RuntimeError(f"export {export_id} did not complete within 300 s")


def _wait(check: object, what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def _beside_slow_endpoints(
    stack: Stack, receiver: Receiver, hooks: list[str], timed: tuple[str, str]
) -> tuple[float, int]:
    """The quiet export's time while the noisy user's deliveries hang; and how many were
    still held unanswered when it completed."""
    noisy = stack.client("noisy")
    receiver.close_gate()
    for hook in hooks * TESTS_PER_ENDPOINT:
        noisy.post(f"/api/webhooks/{hook}/test").raise_for_status()
    # Time the export in the steady state: every slot of the user's cap taken and hanging,
    # the rest waiting for one, the burst of sending them over.
    _wait(lambda: receiver.held() >= PER_USER_CAP, "deliveries in flight", 30)
    time.sleep(0.5)
    seconds = _time_export(stack.client("quiet"), *timed)
    held = receiver.held()
    receiver.open_gate()
    _wait(lambda: receiver.held() == 0, "the receiver to drain", 60)
    time.sleep(1.0)  # deliveries that were waiting for a slot go through; let them settle
    _wait(lambda: receiver.held() == 0, "the receiver to drain", 60)
    return seconds, held


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="reelay-bench-isolation-") as raw:
        tmp = Path(raw)
        source = make_video(tmp / "source.mp4", duration_s=MOMENT_S + 1, width=640, height=360)
        embedded = start_embedded_redis(tmp / "redis")
        receiver = start_receiver()
        stack = start_stack(
            tmp / "stack",
            redis_url=embedded.url,
            database_url=f"sqlite://{tmp / 'isolation.sqlite3'}",
            workers=1,
            extra_env={
                "REELAY_WEBHOOKS_ALLOW_PRIVATE": "1",
                "REELAY_WORKER_THREADS": "1",
                "REELAY_CHUNK_S": "6",
                "REELAY_MAX_ACTIVE_EXPORTS": "100",
            },
        )
        try:
            quiet = stack.client("quiet")
            project = upload(quiet, source)
            moment = add_moment(quiet, project["id"], 0.0, MOMENT_S)
            noisy = stack.client("noisy")
            hooks = []
            for index in range(ENDPOINTS):
                created = noisy.post("/api/webhooks", json={"url": f"{receiver.url}/{index}"})
                created.raise_for_status()
                hooks.append(created.json()["id"])
            _time_export(quiet, project["id"], moment)  # warm-up, not counted
            alone: list[float] = []
            beside: list[float] = []
            held: list[int] = []
            for _ in range(RUNS):
                alone.append(_time_export(quiet, project["id"], moment))
                seconds, still_held = _beside_slow_endpoints(
                    stack, receiver, hooks, (project["id"], moment)
                )
                beside.append(seconds)
                held.append(still_held)
        finally:
            receiver.open_gate()
            stop_stack(stack)
            receiver.server.shutdown()
            embedded.stop()
    a, b = statistics.median(alone), statistics.median(beside)
    print(
        f"isolation: another user's {MOMENT_S:.0f} s export (720p, 1 render worker thread) "
        f"alone {a:.2f} s, beside {ENDPOINTS} endpoints hanging for the 10 s timeout "
        f"{b:.2f} s: ratio {b / a:.2f} (goal <= 1.10); median of {RUNS} interleaved runs"
    )
    print(
        f"  runs alone {', '.join(f'{x:.2f}' for x in alone)} s; beside "
        f"{', '.join(f'{x:.2f}' for x in beside)} s; deliveries still hanging when the "
        f"export completed: {', '.join(map(str, held))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
