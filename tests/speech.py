"""Speech with known word boundaries, generated with Debian's espeak-ng: each word is spoken
on its own, trimmed to where its sound starts and ends, and laid out with known silences —
so the true start of every word is known to the sample."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

ESPEAK = shutil.which("espeak-ng")
#: Tests that speak: skipped on a developer machine without espeak-ng, never in CI.
needs_espeak = pytest.mark.skipif(
    ESPEAK is None and not os.environ.get("CI"),
    reason="needs Debian's espeak-ng (apt-get install espeak-ng)",
)
RATE = 16_000
#: Words of ordinary English prose (every one in the aligner's dictionary).
WORDS = [
    "the",
    "morning",
    "train",
    "was",
    "late",
    "again",
    "so",
    "we",
    "walked",
    "along",
    "the",
    "river",
    "to",
    "the",
    "old",
    "market",
    "where",
    "people",
    "were",
    "selling",
    "fresh",
    "bread",
    "and",
    "apples",
    "while",
    "music",
    "played",
    "from",
    "a",
    "small",
    "radio",
    "near",
    "the",
    "bridge",
    "and",
    "children",
    "laughed",
]


@dataclass(frozen=True)
class Speech:
    pcm: np.ndarray  # int16 mono at RATE
    words: tuple[str, ...]
    starts_s: tuple[float, ...]  # where each word's sound begins
    ends_s: tuple[float, ...]

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / RATE


def _say(word: str, voice: str) -> np.ndarray:
    assert ESPEAK is not None
    raw = subprocess.run(
        [ESPEAK, "-v", voice, "-s", "165", "--stdout", word], check=True, capture_output=True
    ).stdout
    with wave.open(io.BytesIO(raw)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    positions = np.arange(0, len(samples) - 1, rate / RATE)
    resampled = np.interp(positions, np.arange(len(samples)), samples).astype(np.int16)
    loud = np.nonzero(np.abs(resampled) > 0.03 * np.abs(resampled).max())[0]
    return resampled[loud[0] : loud[-1] + 1]


def speak(
    words: tuple[str, ...] | list[str] = WORDS,
    *,
    voice: str = "en-us",
    lead_s: float = 0.5,
    gaps_s: tuple[float, ...] = (0.12, 0.3, 0.2, 0.45, 0.15),
    tail_s: float = 0.5,
    repeat_to_s: float | None = None,
) -> Speech:
    """The words spoken one after another with the gaps (cycled) between them; with
    ``repeat_to_s`` the list is spoken again until the speech is at least that long."""
    said = {w: _say(w, voice) for w in dict.fromkeys(words)}
    pieces = [np.zeros(round(lead_s * RATE), np.int16)]
    starts: list[float] = []
    ends: list[float] = []
    spoken: list[str] = []
    at = lead_s
    i = 0
    while True:
        for word in words:
            audio = said[word]
            starts.append(round(at, 4))
            at += len(audio) / RATE
            ends.append(round(at, 4))
            spoken.append(word)
            gap = gaps_s[i % len(gaps_s)]
            i += 1
            pieces += [audio, np.zeros(round(gap * RATE), np.int16)]
            at += round(gap * RATE) / RATE
        if repeat_to_s is None or at >= repeat_to_s:
            break
    pieces.append(np.zeros(round(tail_s * RATE), np.int16))
    return Speech(np.concatenate(pieces), tuple(spoken), tuple(starts), tuple(ends))


def speech_video(path: Path, speech: Speech, *, width: int = 320, height: int = 240) -> Path:
    """An MP4 with a plain moving picture and ``speech`` as its (AAC, 48 kHz mono) sound."""
    fps = 10
    container = av.open(str(path), "w")
    video = container.add_stream("libx264", rate=fps)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    audio = container.add_stream("aac", rate=48_000)
    audio.layout = "mono"
    frames = int(speech.duration_s * fps) + 1
    for n in range(frames):
        picture = np.full((height, width, 3), 40 + (n * 3) % 120, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts = n
        frame.time_base = Fraction(1, fps)
        for packet in video.encode(frame):
            container.mux(packet)
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=48_000)
    step = 1024
    for offset in range(0, len(speech.pcm), step * 4):
        chunk = speech.pcm[offset : offset + step * 4].reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = offset
        frame.time_base = Fraction(1, RATE)
        for out in resampler.resample(frame):
            for packet in audio.encode(out):
                container.mux(packet)
    for out in resampler.resample(None):
        for packet in audio.encode(out):
            container.mux(packet)
    for stream in (video, audio):
        for packet in stream.encode(None):
            container.mux(packet)
    container.close()
    return path
