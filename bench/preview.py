"""Benchmark of the live preview (issue: watch it while it renders).

In one run, on a 60 s 1920×1080 30 fps source exported whole to 9:16 720p by ``reelay
dev`` stacks with 2 workers each:
1. time from POST to the first playable preview second (the first ``export.preview``
   event) divided by the time the export's first chunk takes to render alone — the render
   engine rendering that one chunk of the same plan in this process, nothing else running
   (goal ≤ 1.5);
2. the export's wall time (POST → ``export.completed``) with the preview on, divided by
   the same with ``REELAY_LIVE_PREVIEW=0`` (goal ≤ 1.03).
Runs are interleaved (reference, on, off, …) and the median of each is reported, since
these machines are noisy. Every wait is bounded. Run: ``python bench/preview.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stacks import embedded_redis, project_with_moment
from tests.e2e.stack import Stack, start_stack, stop_stack
from tests.media import make_video
from workers import render
from workers.render.spec import RenderSpec

REPEATS = 3
MOMENT = (0.0, 60.0)
CHUNK_S = 6.0
EXPORT_TIMEOUT_S = 600.0


def _first_chunk_alone(source: Path, out: Path) -> float:
    """Seconds the engine takes to render the export's first chunk with the machine to
    itself (the plan is the service's: same spec, same 6 s chunking)."""
    spec = RenderSpec(
        start_s=MOMENT[0], end_s=MOMENT[1], aspect_ratio="9:16", resolution="720p", chunk_s=CHUNK_S
    )
    plan = render.plan_render(render.probe(str(source)), spec)
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    render.render_chunk(str(source), spec, plan, plan.chunks[0], str(out))
    return time.perf_counter() - started


def _export(client: httpx.Client, project_id: str, moment_id: str) -> tuple[float | None, float]:
    """(POST → first export.preview, POST → export.completed) in seconds."""
    since = client.get(f"/api/projects/{project_id}/events").json()["last_seq"]
    started = time.perf_counter()
    response = client.post(
        f"/api/projects/{project_id}/exports",
        json={"moment_ids": [moment_id], "aspect_ratio": "9:16", "resolution": "720p"},
    )
    response.raise_for_status()
    export_id = response.json()["exports"][0]["id"]
    first_preview: float | None = None
    while time.perf_counter() - started < EXPORT_TIMEOUT_S:
        page: dict[str, Any] = client.get(
            f"/api/projects/{project_id}/events", params={"since": since}
        ).json()
        for event in page["events"]:
            since = event["seq"]
            if event.get("export_id") != export_id:
                continue
            now = time.perf_counter() - started
            if event["type"] == "export.preview" and first_preview is None:
                first_preview = now
            if event["type"] == "export.failed":
                raise RuntimeError(f"export failed: {event['data']}")
            if event["type"] == "export.completed":
                return first_preview, now
        time.sleep(0.02)
    raise RuntimeError(f"export {export_id} did not complete in {EXPORT_TIMEOUT_S} s")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="reelay-bench-preview-") as raw_tmp:
        tmp = Path(raw_tmp)
        print("generating a 60 s 1920x1080 30 fps source ...", flush=True)
        source = make_video(tmp / "source.mp4", duration_s=60.0, width=1920, height=1080)
        redis_process, redis_url = embedded_redis(tmp)
        base = redis_url.rsplit("/", 1)[0]
        stacks: dict[str, Stack] = {}
        alone: list[float] = []
        first: list[float] = []
        walls: dict[str, list[float]] = {"on": [], "off": []}
        try:
            for name, db_index, live in (("on", 1, "1"), ("off", 2, "0")):
                stacks[name] = start_stack(
                    tmp / name,
                    redis_url=f"{base}/{db_index}",  # separate queues per stack
                    database_url=f"sqlite://{tmp / name}.sqlite3",
                    workers=2,
                    extra_env={"REELAY_CHUNK_S": str(CHUNK_S), "REELAY_LIVE_PREVIEW": live},
                )
            clients = {name: stack.client("bench") for name, stack in stacks.items()}
            targets = {name: project_with_moment(clients[name], source, MOMENT) for name in stacks}
            for run in range(REPEATS):
                alone.append(_first_chunk_alone(source, tmp / "chunk0.mp4"))
                for name in ("on", "off") if run % 2 == 0 else ("off", "on"):
                    preview_s, wall = _export(clients[name], *targets[name])
                    walls[name].append(wall)
                    if name == "on":
                        assert preview_s is not None, "no export.preview with the preview on"
                        first.append(preview_s)
                    print(
                        f"run {run + 1} preview {name}: wall {wall:.2f} s"
                        + (f", first preview {preview_s:.2f} s" if preview_s else ""),
                        flush=True,
                    )
                print(f"run {run + 1} first chunk alone: {alone[-1]:.2f} s", flush=True)
        finally:
            for stack in stacks.values():
                stop_stack(stack)
            redis_process.terminate()
            redis_process.wait()

    chunk = statistics.median(alone)
    to_preview = statistics.median(first)
    on, off = statistics.median(walls["on"]), statistics.median(walls["off"])
    print(
        f"POST -> first playable preview second: {to_preview:.2f} s; first chunk alone "
        f"{chunk:.2f} s; ratio {to_preview / chunk:.3f} (goal <= 1.5)"
    )
    print(
        f"60 s 1080p -> 9:16 720p export wall: preview on {on:.2f} s, off {off:.2f} s; "
        f"ratio {on / off:.3f} (goal <= 1.03)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
