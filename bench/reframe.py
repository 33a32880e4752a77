"""Benchmark: auto reframe's cost. A 60 s 1080p30 source with a face that pans, pauses and
jumps, exported to 9:16 720p with ``focus_mode="auto"`` (faces analysed, then the moving
crop rendered) against the same export with a static ``focus_x``.

Runs interleave (auto, static, auto, static, …) and the median of each counts, as hosts are
shared. Goal: auto / static wall time <= 1.15. Also prints the detector's cost per analysed
picture (decode excluded) and per inference. Run: `python bench/reframe.py`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.render import RenderSpec, render
from workers.render.analysis import FocusAnalysis
from workers.render.faces import FaceDetector

FFMPEG = "/usr/bin/ffmpeg"
REPEATS = 3
DURATION_S = 60
AUTO = RenderSpec(0.0, DURATION_S, aspect_ratio="9:16", resolution="720p", focus_mode="auto")
STATIC = RenderSpec(0.0, DURATION_S, aspect_ratio="9:16", resolution="720p", focus_x=0.5)
#: The photo's left edge: 4 s still at 200 px, then a pan at 80 px/s, then a jump back
#: every 20 s.
PATH_X = "if(lt(mod(t\\,20)\\,4)\\,200\\,200+80*(mod(t\\,20)-4))"


def make_source(folder: Path) -> Path:
    """The astronaut (scikit-image's photo) moving over a soft texture, encoded by ffmpeg."""
    from skimage import data

    rng = np.random.default_rng(16)
    texture = Image.fromarray(rng.integers(40, 200, size=(27, 48, 3), dtype=np.uint8))
    texture.resize((1920, 1080), Image.Resampling.BILINEAR).save(folder / "texture.png")
    Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
    out = folder / "source.mp4"
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-loop", "1", "-i", str(folder / "texture.png"),
         "-loop", "1", "-i", str(folder / "astronaut.png"),
         "-filter_complex", f"[0][1]overlay=x='{PATH_X}':y=300,format=yuv420p",
         "-t", str(DURATION_S), "-r", "30", "-c:v", "libx264", "-preset", "veryfast",
         "-crf", "20", "-g", "60", str(out)],
        check=True,
    )  # fmt: skip
    return out


def timed(src: Path, spec: RenderSpec, out: Path) -> tuple[float, FocusAnalysis | None, float]:
    """Wall time of the export, what the analysis found, and when it was done (s)."""
    found: list[FocusAnalysis] = []
    analysed: list[float] = []
    started = time.perf_counter()

    def heard(analysis: FocusAnalysis) -> None:
        found.append(analysis)
        analysed.append(time.perf_counter() - started)

    render(str(src), spec, str(out), on_analysis=heard)
    return time.perf_counter() - started, (found[0] if found else None), sum(analysed)


def detector_cost(src: Path) -> tuple[float, float]:
    """Milliseconds of one full scan (two tiles) and one look near a face, on a picture of
    the source at the analysis size."""
    import av

    with av.open(str(src)) as container:
        frame = next(container.decode(video=0))
        picture = np.asarray(frame.to_ndarray(width=384, height=216, format="rgb24"))
    detector = FaceDetector()
    face = detector.detect(picture)[0]
    for _ in range(5):
        detector.detect(picture)
    rounds = 50
    t0 = time.perf_counter()
    for _ in range(rounds):
        detector.detect(picture)
    full = (time.perf_counter() - t0) / rounds * 1000
    t0 = time.perf_counter()
    for _ in range(rounds):
        detector.detect_near(picture, face)
    near = (time.perf_counter() - t0) / rounds * 1000
    return full, near


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="reelay-bench-reframe-") as tmp:
        folder = Path(tmp)
        src = make_source(folder)
        auto_runs: list[float] = []
        static_runs: list[float] = []
        analyses: list[FocusAnalysis] = []
        analysis_s: list[float] = []
        load_before = os.getloadavg()[0]
        for _ in range(REPEATS):
            wall, analysis, until = timed(src, AUTO, folder / "auto.mp4")
            auto_runs.append(wall)
            analysis_s.append(until)
            assert analysis is not None and not analysis.fallback, "the face must be found"
            analyses.append(analysis)
            static_runs.append(timed(src, STATIC, folder / "static.mp4")[0])
        load_after = os.getloadavg()[0]
        full_ms, near_ms = detector_cost(src)
    auto, static = statistics.median(auto_runs), statistics.median(static_runs)
    per_sample = statistics.median(a.detect_ms_per_sample for a in analyses)
    last = analyses[-1]
    print(f"source: {DURATION_S} s 1080p30, moving face → 9:16 720p; {REPEATS} interleaved runs")
    print(f"auto reframe export   median {auto:6.2f} s   runs {[round(r, 2) for r in auto_runs]}")
    print(
        f"static focus_x export median {static:6.2f} s   runs {[round(r, 2) for r in static_runs]}"
    )
    print(f"ratio auto / static: {auto / static:.3f} (goal <= 1.15)")
    print(
        f"analysis: {last.samples} pictures ({last.samples / DURATION_S:.1f} per s), faces in "
        f"{last.samples_with_faces}, {len(last.track)} track points"
    )
    print(
        f"probe + face analysis before rendering: median {statistics.median(analysis_s):.2f} s"
        f" (runs {[round(r, 2) for r in analysis_s]})"
    )
    print(f"1-min load average before/after: {load_before:.1f}/{load_after:.1f} (2 cores)")
    print(f"detector per analysed picture: {per_sample:.1f} ms (median of runs, decode excluded)")
    print(f"one full scan (2 tiles): {full_ms:.1f} ms; one look near the face: {near_ms:.1f} ms")


if __name__ == "__main__":
    main()
