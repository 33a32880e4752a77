"""Benchmark: our engine against the ffmpeg CLI on a 45 s 9:16 720p cut of a 1080p source.

Each contender runs twice, interleaved, and the best time counts (hosts are often shared).
Goals: wall time ours/ffmpeg <= 1.10; chunked CPU / unchunked CPU <= 1.10. Also prints peak
RSS and the ETA error of the progress tracker at 25/50/75 %. Run: `python bench/render.py`.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.render import Progress, RenderSpec, probe, render
from workers.render.plan import output_size
from workers.render.reframe import SCALE_FLAGS, crop_rect

FFMPEG = "/usr/bin/ffmpeg"
START_S, END_S = 7.5, 52.5
REPEATS = 2
SPEC = RenderSpec(start_s=START_S, end_s=END_S, aspect_ratio="9:16", resolution="720p")


@dataclass
class Run:
    """Wall and CPU seconds of one render (CPU counts this process or the child)."""

    wall: float
    cpu: float


def make_source(path: Path) -> None:
    """60 s of 1080p30 test pattern with a stereo tone (generated once per run)."""
    subprocess.run(
        [FFMPEG, "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=60",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=60",
         "-ac", "2", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-g", "60",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip


def run_ffmpeg(src: Path, out: Path) -> Run:
    """The reference: the same cut, crop, scale and encoder settings through the ffmpeg CLI."""
    source = probe(str(src))
    width, height = output_size(source, SPEC.aspect_ratio, SPEC.resolution)
    rect = crop_rect(source, width, height, SPEC.focus_x)
    vf = (
        f"crop={rect.width}:{rect.height}:{rect.x}:{rect.y},"
        f"scale={width}:{height}:flags={SCALE_FLAGS},format=yuv420p"
    )
    cmd = [FFMPEG, "-v", "error", "-y", "-ss", str(START_S), "-t", str(END_S - START_S),
           "-i", str(src), "-vf", vf, "-c:v", "libx264", "-preset", SPEC.preset,
           "-crf", str(SPEC.crf), "-c:a", "aac", "-b:a", "128k", "-ar", "48000",
           "-movflags", "+faststart", str(out)]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu)


def run_ours(src: Path, out: Path, *, chunked: bool) -> tuple[Run, list[tuple[float, Progress]]]:
    """Our engine in this process, recording every progress report with its wall time."""
    reports: list[tuple[float, Progress]] = []
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    render(
        str(src),
        SPEC,
        str(out),
        chunked=chunked,
        on_progress=lambda p: reports.append((time.perf_counter() - t0, p)),
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu), [(wall - t, p) for t, p in reports]


def eta_errors(reports: list[tuple[float, Progress]]) -> dict[int, str]:
    """ETA error at 25/50/75 %: predicted remaining minus actual remaining wall time."""
    errors: dict[int, str] = {}
    for mark in (25, 50, 75):
        hit = next(((r, p) for r, p in reports if p.progress >= mark / 100), None)
        if hit is None or hit[1].eta_s is None:
            errors[mark] = "n/a"
            continue
        actual, progress = hit
        error = (progress.eta_s or 0.0) - actual
        errors[mark] = f"{error:+.2f} s ({error / actual:+.0%} of the {actual:.1f} s left)"
    return errors


def _best(runs: list[Run]) -> Run:
    return Run(min(r.wall for r in runs), min(r.cpu for r in runs))


def _verdict(ratio: float) -> str:
    return "OK" if ratio <= 1.10 else "MISSED"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="reelay-bench-") as tmp:
        work = Path(tmp)
        src = work / "source.mp4"
        print("generating a 60 s 1920x1080 30 fps source ...", flush=True)
        make_source(src)
        references, unchunked_runs, chunked_runs = [], [], []
        for _ in range(REPEATS):  # interleaved, best of each: the host may be shared
            references.append(run_ffmpeg(src, work / "ffmpeg.mp4"))
            unchunked_runs.append(run_ours(src, work / "ours.mp4", chunked=False)[0])
            run, reports = run_ours(src, work / "ours-chunked.mp4", chunked=True)
            chunked_runs.append(run)
        reference, unchunked, chunked = (
            _best(runs) for runs in (references, unchunked_runs, chunked_runs)
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = unchunked.wall / reference.wall
    cpu_ratio = chunked.cpu / unchunked.cpu
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"ffmpeg CLI      wall {reference.wall:6.2f} s  cpu {reference.cpu:6.2f} s")
    print(f"ours unchunked  wall {unchunked.wall:6.2f} s  cpu {unchunked.cpu:6.2f} s")
    print(f"ours chunked    wall {chunked.wall:6.2f} s  cpu {chunked.cpu:6.2f} s")
    print(f"wall ours/ffmpeg        {ratio:.3f}  (goal <= 1.10) {_verdict(ratio)}")
    print(f"cpu chunked/unchunked   {cpu_ratio:.3f}  (goal <= 1.10) {_verdict(cpu_ratio)}")
    print(f"cpu ours/ffmpeg         {unchunked.cpu / reference.cpu:.3f}")
    print(f"peak RSS (this process) {peak_mb:.0f} MiB")
    for mark, error in eta_errors(reports).items():
        print(f"ETA error at {mark}%       {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
