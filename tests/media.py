"""Tiny real media files generated with PyAV, so tests never need binary fixtures in git.

Videos show a moving gradient with a bright marker in the top-left quadrant (so rotation and
cropping are visible in pixels) and carry a sine tone per channel.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}


def _picture(index: int, width: int, height: int) -> np.ndarray:
    """An RGB frame: horizontal gradient that scrolls, plus a white block at the top-left."""
    xs = (np.arange(width, dtype=np.int32) * 255 // max(width - 1, 1) + index * 4) % 256
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:, :, 0] = xs[np.newaxis, :]
    img[:, :, 1] = (np.arange(height, dtype=np.int32) * 255 // max(height - 1, 1))[:, np.newaxis]
    img[:, :, 2] = 96
    img[: max(height // 6, 2), : max(width // 6, 2)] = 255
    return img


def counter_level(index: int) -> int:
    """Luma-ish grey level of frame ``index`` in the "counter" pattern (distinct over 28 frames)."""
    return 24 + (index % 28) * 8


def _counter(index: int, width: int, height: int) -> np.ndarray:
    """A flat grey frame whose level tells which source frame it is."""
    return np.full((height, width, 3), counter_level(index), dtype=np.uint8)


def _frame_times(duration_s: float, fps: int, vfr: bool) -> list[float]:
    """Presentation times; with ``vfr`` the gaps alternate between 0.5 and 1.5 frame periods."""
    times: list[float] = []
    t = 0.0
    step = 1.0 / fps
    i = 0
    while t < duration_s - 1e-9:
        times.append(t)
        t += step * (0.5 if i % 2 == 0 else 1.5) if vfr else step
        i += 1
    return times


def make_video(
    path: str | Path,
    *,
    duration_s: float = 3.0,
    width: int = 320,
    height: int = 240,
    fps: int = 30,
    audio_channels: int = 2,
    sample_rate: int = 48000,
    rotation: int = 0,
    sar: tuple[int, int] | None = None,
    vfr: bool = False,
    codec: str = "libx264",
    pattern: str = "gradient",
) -> Path:
    """Write a small video (and tone, unless ``audio_channels=0``) and return its path.

    ``rotation`` is stored as display-matrix metadata (counter-clockwise degrees, like
    ``VideoFrame.rotation``); ``sar`` sets non-square pixels; ``vfr`` makes irregular pts;
    ``pattern="counter"`` makes flat frames whose grey level encodes the frame index.
    """
    draw = _counter if pattern == "counter" else _picture
    out = Path(path)
    container = av.open(str(out), "w")
    video = container.add_stream(codec, rate=fps)
    video.width = width
    video.height = height
    video.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    if vfr:
        video.codec_context.time_base = Fraction(1, 1000)
    if sar is not None:
        video.codec_context.sample_aspect_ratio = Fraction(*sar)
    if codec == "libx264":
        video.options = {"preset": "ultrafast", "g": str(fps)}
    if rotation:
        video.set_display_rotation(rotation)
    audio = None
    if audio_channels:
        audio = container.add_stream("aac", rate=sample_rate, layout=_LAYOUTS[audio_channels])

    for index, t in enumerate(_frame_times(duration_s, fps, vfr)):
        frame = av.VideoFrame.from_ndarray(draw(index, width, height), format="rgb24")
        if vfr:
            frame.pts = round(t * 1000)
            frame.time_base = Fraction(1, 1000)
        else:
            frame.pts = index
            frame.time_base = Fraction(1, fps)
        container.mux(video.encode(frame))
    container.mux(video.encode())

    if audio is not None:
        _write_tone(container, audio, duration_s, audio_channels, sample_rate)
    container.close()
    return out


def _write_tone(
    container: av.container.OutputContainer,
    stream: av.AudioStream,
    duration_s: float,
    channels: int,
    sample_rate: int,
) -> None:
    total = round(duration_s * sample_rate)
    block = 1024
    for start in range(0, total, block):
        n = min(block, total - start)
        t = (np.arange(start, start + n) / sample_rate).astype(np.float32)
        tones = [0.3 * np.sin(2 * math.pi * (330 + 110 * c) * t) for c in range(channels)]
        samples = np.stack(tones).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=_LAYOUTS[channels])
        frame.sample_rate = sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, sample_rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode())


def make_audio_only(path: str | Path, *, duration_s: float = 2.0) -> Path:
    """An M4A with a tone and no video stream."""
    out = Path(path)
    container = av.open(str(out), "w")
    stream = container.add_stream("aac", rate=48000, layout="stereo")
    _write_tone(container, stream, duration_s, 2, 48000)
    container.close()
    return out


def make_garbage(path: str | Path, *, size: int = 4096) -> Path:
    """Random bytes with a video-looking name."""
    out = Path(path)
    out.write_bytes(np.random.default_rng(7).integers(0, 256, size, dtype=np.uint8).tobytes())
    return out


def make_empty(path: str | Path) -> Path:
    """A zero-byte file."""
    out = Path(path)
    out.write_bytes(b"")
    return out


def make_truncated(path: str | Path, source: str | Path, *, keep: float = 0.3) -> Path:
    """The first ``keep`` fraction of a real file: header present, most media missing."""
    data = Path(source).read_bytes()
    out = Path(path)
    out.write_bytes(data[: int(len(data) * keep)])
    return out


def make_unknown_codec(path: str | Path) -> Path:
    """A Matroska file whose video track names a codec no decoder knows (``V_ZZZZZ/ISO/AVC``)."""
    out = Path(path)
    real = make_video(out.with_suffix(".real.mkv"), duration_s=0.5, audio_channels=0)
    data = real.read_bytes().replace(b"V_MPEG4/ISO/AVC", b"V_ZZZZZ/ISO/AVC")
    real.unlink()
    out.write_bytes(data)
    return out
