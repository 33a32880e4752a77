"""Benchmark of capacity (issue: reliability and scale), all in one run on this machine.

A queue of 20 short exports is drained by 1 worker process pinned to one CPU, then by
2 worker processes pinned to one CPU each (taskset), against the same web process kind.
Prints throughput and p99 time-to-complete for each, the scaling ratio 2 workers / 1
worker (goal ≥ 1.8), and RSS of the web and worker processes before and after the run
(goal: no growth beyond 10 %).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.commands.embedded_redis import start_embedded_redis
from tests.e2e.flows import add_moment, upload
from tests.e2e.stack import Stack, child_pids, start_stack, stop_stack
from tests.media import make_video

EXPORTS = 20
WARMUP = 4
MOMENT_S = 3.0


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _tree_rss_kib(pid: int) -> int:
    return _rss_kib(pid) + sum(_tree_rss_kib(child) for child in child_pids(pid))


def _web_pid(stack: Stack) -> int:
    for child in child_pids(stack.process.pid):
        if b" web" in Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" "):
            return child
    raise RuntimeError("no web process under reelay dev")


def _start_workers(stack: Stack, cpus: list[int]) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            ["taskset", "-c", str(cpu), sys.executable, "-m", "server.cli", "worker",
             "--processes", "1", "--threads", "1"],
            env={**stack.env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for cpu in cpus
    ]  # fmt: skip


def _drain(client: httpx.Client, project_id: str, moment_ids: list[str]) -> list[float]:
    """Submit one export per moment at once; seconds from submission to each completion."""
    submitted = time.perf_counter()
    ids = []
    for moment_id in moment_ids:
        response = client.post(
            f"/api/projects/{project_id}/exports",
            json={"moment_ids": [moment_id], "aspect_ratio": "9:16", "resolution": "720p"},
        )
        response.raise_for_status()
        ids.append(response.json()["exports"][0]["id"])
    done: dict[str, float] = {}
    deadline = submitted + 900
    while len(done) < len(ids):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {len(done)} of {len(ids)} exports finished in time")
        for export in client.get(f"/api/projects/{project_id}/exports").json()["exports"]:
            if export["id"] in ids and export["id"] not in done:
                if export["status"] == "failed":
                    raise RuntimeError(f"export failed: {export['error']}")
                if export["status"] == "completed":
                    done[export["id"]] = time.perf_counter() - submitted
        time.sleep(0.1)
    return sorted(done.values())


def _run(tmp: Path, redis_url: str, source: Path, cpus: list[int]) -> dict[str, float]:
    redis.Redis.from_url(redis_url).flushall()
    stack = start_stack(
        tmp / f"workers-{len(cpus)}",
        redis_url=redis_url,
        database_url=f"sqlite://{tmp / f'load-{len(cpus)}.sqlite3'}",
        workers=0,
        extra_env={"REELAY_MAX_ACTIVE_EXPORTS": "100", "REELAY_CHUNK_S": "6"},
    )
    workers = _start_workers(stack, cpus)
    try:
        client = stack.client("load")
        project = upload(client, source)
        moments = [
            add_moment(client, project["id"], (i % 6) * 1.0, (i % 6) * 1.0 + MOMENT_S)
            for i in range(EXPORTS)
        ]
        _drain(client, project["id"], moments[:WARMUP])
        web_pid = _web_pid(stack)
        rss_before = (_rss_kib(web_pid), sum(_tree_rss_kib(w.pid) for w in workers))
        times = _drain(client, project["id"], moments)
        rss_after = (_rss_kib(web_pid), sum(_tree_rss_kib(w.pid) for w in workers))
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
        stop_stack(stack)
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    return {
        "throughput": len(times) / times[-1],
        "p99": p99,
        "web_before": rss_before[0],
        "web_after": rss_after[0],
        "workers_before": rss_before[1],
        "workers_after": rss_after[1],
    }


def main() -> int:
    if (os.cpu_count() or 1) < 2:
        print("needs 2 CPUs for the scaling figure")
        return 1
    with tempfile.TemporaryDirectory(prefix="reelay-bench-load-") as raw:
        tmp = Path(raw)
        source = make_video(tmp / "source.mp4", duration_s=10.0, width=640, height=360)
        embedded = start_embedded_redis(tmp / "redis")
        try:
            one = _run(tmp, embedded.url, source, [0])
            two = _run(tmp, embedded.url, source, [0, 1])
        finally:
            embedded.stop()
    for name, figures in (("1 worker (1 CPU)", one), ("2 workers (1 CPU each)", two)):
        print(
            f"{name}: {EXPORTS} exports of {MOMENT_S:.0f} s at 720p, "
            f"throughput {figures['throughput']:.2f} exports/s, "
            f"p99 time-to-complete {figures['p99']:.1f} s"
        )
        for kind in ("web", "workers"):
            before, after = figures[f"{kind}_before"], figures[f"{kind}_after"]
            print(
                f"  RSS {kind}: {before / 1024:.0f} MiB -> {after / 1024:.0f} MiB "
                f"({(after - before) / before * 100:+.1f} %, goal <= +10 %)"
            )
    print(
        f"scaling 2 workers / 1 worker: {two['throughput'] / one['throughput']:.2f}x (goal >= 1.8x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
