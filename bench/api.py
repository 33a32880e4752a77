"""Benchmark of the service around the render engine (issue: the service).

In one run, against real ``reelay dev`` stacks on this machine:
1. POST /exports latency p50/p99 at 50 req/s for 20 s (goal p99 ≤ 50 ms), on a stack
   with no workers so rendering does not compete with the web process for the 2 cores;
2. time from POST to the first ``export.progress`` event in the log (goal ≤ 1 s);
3. one 45 s 1080p moment exported end to end, divided by ``reelay render`` of the same
   moment in the same run (goal ≤ 1.15: the queue must add little).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stacks import embedded_redis, project_with_moment
from tests.e2e.stack import Stack, start_stack, stop_stack
from tests.media import make_video

RATE_PER_S = 50
DURATION_S = 20
MOMENT = (5.0, 50.0)


async def _post_load(
    stack: Stack, token_client: httpx.Client, project_id: str, moment_id: str
) -> list[float]:
    headers = dict(token_client.headers)
    latencies: list[float] = []
    body = {"moment_ids": [moment_id], "aspect_ratio": "9:16", "resolution": "720p"}
    async with httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=10) as client:

        async def one() -> None:
            started = time.perf_counter()
            response = await client.post(f"/api/projects/{project_id}/exports", json=body)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 202:
                raise RuntimeError(
                    f"POST /exports answered {response.status_code}: {response.text}"
                )

        tasks = []
        start = time.perf_counter()
        for i in range(RATE_PER_S * DURATION_S):
            delay = start + i / RATE_PER_S - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return latencies


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _first_progress_and_completion(
    client: httpx.Client, project_id: str, moment_id: str
) -> tuple[float, float]:
    since = client.get(f"/api/projects/{project_id}/events").json()["last_seq"]
    started = time.perf_counter()
    response = client.post(
        f"/api/projects/{project_id}/exports",
        json={"moment_ids": [moment_id], "aspect_ratio": "9:16", "resolution": "1080p"},
    )
    response.raise_for_status()
    export_id = response.json()["exports"][0]["id"]
    first_progress: float | None = None
    while True:
        page: dict[str, Any] = client.get(
            f"/api/projects/{project_id}/events", params={"since": since}
        ).json()
        for event in page["events"]:
            since = event["seq"]
            if event.get("export_id") != export_id:
                continue
            if event["type"] == "export.progress" and first_progress is None:
                first_progress = time.perf_counter() - started
            if event["type"] == "export.failed":
                raise RuntimeError(f"export failed: {event['data']}")
            if event["type"] == "export.completed":
                assert first_progress is not None
                return first_progress, time.perf_counter() - started
        time.sleep(0.02)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="reelay-bench-api-") as raw_tmp:
        tmp = Path(raw_tmp)
        print("generating a 60 s 1920x1080 30 fps source ...", flush=True)
        source = make_video(tmp / "source.mp4", duration_s=60.0, width=1920, height=1080)
        redis_process, redis_url = embedded_redis(tmp)
        try:
            db = f"sqlite://{tmp / 'load.sqlite3'}"
            quiet = start_stack(
                tmp / "load",
                redis_url=redis_url,
                database_url=db,
                workers=0,
                extra_env={"REELAY_MAX_ACTIVE_EXPORTS": str(RATE_PER_S * DURATION_S)},
            )
            try:
                client = quiet.client("bench")
                project_id, moment_id = project_with_moment(client, source, MOMENT)
                latencies = asyncio.run(_post_load(quiet, client, project_id, moment_id))
            finally:
                stop_stack(quiet)
            redis.Redis.from_url(redis_url).flushall()
            db = f"sqlite://{tmp / 'e2e.sqlite3'}"
            busy = start_stack(
                tmp / "e2e",
                redis_url=redis_url,
                database_url=db,
                workers=2,
                extra_env={"REELAY_CHUNK_S": "6"},
            )
            try:
                client = busy.client("bench")
                project_id, moment_id = project_with_moment(client, source, MOMENT)
                first_progress, export_wall = _first_progress_and_completion(
                    client, project_id, moment_id
                )
            finally:
                stop_stack(busy)
        finally:
            redis_process.terminate()
            redis_process.wait()
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "server.cli", "render", str(source),
             "--start", str(MOMENT[0]), "--end", str(MOMENT[1]), "--aspect", "9:16",
             "--resolution", "1080p", "-o", str(tmp / "reference.mp4")],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        render_wall = time.perf_counter() - started

    ms = [v * 1000 for v in latencies]
    print(
        f"POST /exports at {RATE_PER_S} req/s for {DURATION_S} s: n={len(ms)} "
        f"p50={statistics.median(ms):.1f} ms p99={_percentile(ms, 0.99):.1f} ms "
        f"max={max(ms):.1f} ms (goal p99 <= 50 ms)"
    )
    print(f"POST -> first export.progress: {first_progress:.2f} s (goal <= 1 s)")
    print(
        f"45 s 1080p moment: export end-to-end {export_wall:.1f} s, "
        f"reelay render {render_wall:.1f} s, ratio {export_wall / render_wall:.3f} (goal <= 1.15)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
