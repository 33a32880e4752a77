"""Benchmark: what captions cost an export, and how fast alignment runs.

1. 45 s of a 1080p source → 9:16 720p with one karaoke caption every 2 s (five timed words
   each), against the same export without captions. Each export is a whole ``reelay render``
   process; the two run interleaved, REPEATS times, and the median wall time counts.
   Goal: karaoke / plain <= 1.05.
2. Alignment of 60 s of espeak-ng speech (known word starts), in a whole process pinned to
   one core, REPEATS times: median wall time / audio duration. Goal <= 0.5. Also prints the
   word-start error (median / 90th percentile).

Run: `python bench/captions.py`.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.render import END_S, START_S, make_source  # noqa: E402
from tests.speech import RATE, speak  # noqa: E402

REPEATS = 3
RENDER_REPEATS = 5
CAPTION_EVERY_S = 2.0
WORDS = ("every", "word", "lights", "up", "now")
ALIGN_S = 60.0

ALIGN_CHILD = """
import json, sys, time, wave
import numpy as np
from workers.align import align_words
with wave.open(sys.argv[1]) as f:
    pcm = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16)
t0 = time.perf_counter()
result = align_words(pcm, 16000, open(sys.argv[2], encoding="utf-8").read())
wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "starts": [w.start_s for w in result.words],
                  "method": result.method}))
"""


def karaoke_captions() -> list[dict[str, object]]:
    """One caption every 2 s over the moment, each with its five words timed evenly."""
    captions: list[dict[str, object]] = []
    t = START_S
    while t + CAPTION_EVERY_S <= END_S + 1e-9:
        step = (CAPTION_EVERY_S - 0.2) / len(WORDS)
        words = [
            {"start_s": round(t + i * step, 3), "end_s": round(t + (i + 1) * step, 3), "text": w}
            for i, w in enumerate(WORDS)
        ]
        captions.append(
            {"start_s": t, "end_s": t + CAPTION_EVERY_S - 0.2, "text": " ".join(WORDS),
             "words": words}
        )  # fmt: skip
        t += CAPTION_EVERY_S
    return captions


def run_render(src: Path, out: Path, captions: Path | None) -> tuple[float, float]:
    """Wall and CPU seconds of one whole ``reelay render`` process."""
    cmd = [sys.executable, "-m", "server.cli", "render", str(src), "--start", str(START_S),
           "--end", str(END_S), "--aspect", "9:16", "-o", str(out)]  # fmt: skip
    if captions is not None:
        cmd += ["--captions", str(captions), "--caption-style", '{"preset": "karaoke"}']
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_align(wav: Path, text: Path) -> dict[str, object]:
    """One alignment in a whole process pinned to one core."""
    core = sorted(os.sched_getaffinity(0))[0]
    done = subprocess.run(
        [sys.executable, "-c", ALIGN_CHILD, str(wav), str(text)],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {core}),
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _verdict(ratio: float, goal: float) -> str:
    return "OK" if ratio <= goal else "MISSED"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="reelay-bench-captions-") as tmp:
        work = Path(tmp)
        src = work / "source.mp4"
        print("generating a 60 s 1920x1080 30 fps source ...", flush=True)
        make_source(src)
        captions = work / "captions.json"
        captions.write_text(json.dumps(karaoke_captions()), encoding="utf-8")
        plain_runs: list[tuple[float, float]] = []
        karaoke_runs: list[tuple[float, float]] = []
        for round_ in range(RENDER_REPEATS):  # interleaved, order alternating: a shared host
            pair = [(plain_runs, None), (karaoke_runs, captions)]
            for runs, given in pair if round_ % 2 == 0 else reversed(pair):
                runs.append(run_render(src, work / "out.mp4", given))
        print(f"generating {ALIGN_S:.0f} s of speech with espeak-ng ...", flush=True)
        speech = speak(repeat_to_s=ALIGN_S)
        wav = work / "speech.wav"
        with wave.open(str(wav), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(speech.pcm.tobytes())
        text = work / "speech.txt"
        text.write_text(" ".join(speech.words), encoding="utf-8")
        aligns = [run_align(wav, text) for _ in range(REPEATS)]
    plain = statistics.median(w for w, _ in plain_runs)
    karaoke = statistics.median(w for w, _ in karaoke_runs)
    plain_cpu = statistics.median(c for _, c in plain_runs)
    karaoke_cpu = statistics.median(c for _, c in karaoke_runs)
    ratio = karaoke / plain
    align_wall = statistics.median(float(a["wall"]) for a in aligns)  # type: ignore[arg-type]
    rtf = align_wall / speech.duration_s
    starts = aligns[0]["starts"]
    assert isinstance(starts, list)
    errors = sorted(abs(a - b) for a, b in zip(starts, speech.starts_s, strict=True))
    p90 = errors[min(len(errors) - 1, int(0.9 * len(errors)))]
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"export without captions   median wall {plain:6.2f} s  cpu {plain_cpu:6.2f} s")
    print(f"export with karaoke       median wall {karaoke:6.2f} s  cpu {karaoke_cpu:6.2f} s")
    print(f"wall karaoke/plain        {ratio:.3f}  (goal <= 1.05) {_verdict(ratio, 1.05)}")
    print(f"cpu karaoke/plain         {karaoke_cpu / plain_cpu:.3f}  (the same, less host noise)")
    print(
        f"alignment of {speech.duration_s:.1f} s of speech: median wall {align_wall:.2f} s "
        f"on one core, method {aligns[0]['method']}"
    )
    print(f"alignment wall/audio      {rtf:.3f}  (goal <= 0.5) {_verdict(rtf, 0.5)}")
    print(
        f"word-start error          median {statistics.median(errors) * 1000:.0f} ms, "
        f"p90 {p90 * 1000:.0f} ms over {len(errors)} words"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (this process)   {peak_mb:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
