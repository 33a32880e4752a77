"""Values that describe a render: what to cut, how to frame it, and how far along it is.

These travel between processes (the service stores them, workers rebuild them), so they
are frozen dataclasses of plain values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

AspectRatio = Literal["9:16", "1:1", "4:5", "16:9", "original"]
Resolution = Literal["720p", "1080p"]

ASPECT_RATIOS: tuple[AspectRatio, ...] = ("9:16", "1:1", "4:5", "16:9", "original")
RESOLUTIONS: tuple[Resolution, ...] = ("720p", "1080p")

#: Exact output sizes (width, height) per API.md; "original" is computed from the source.
OUTPUT_SIZES: dict[tuple[str, str], tuple[int, int]] = {
    ("9:16", "720p"): (720, 1280),
    ("9:16", "1080p"): (1080, 1920),
    ("1:1", "720p"): (720, 720),
    ("1:1", "1080p"): (1080, 1080),
    ("4:5", "720p"): (720, 900),
    ("4:5", "1080p"): (1080, 1350),
    ("16:9", "720p"): (1280, 720),
    ("16:9", "1080p"): (1920, 1080),
}

#: libx264 refuses to open for a side longer than this (avcodec_open2 fails; measured).
ENCODER_MAX_SIDE = 16384


@dataclass(frozen=True)
class OutputBounds:
    """The largest output picture allowed; the defaults are what the encoder itself opens."""

    max_width: int = ENCODER_MAX_SIDE
    max_height: int = ENCODER_MAX_SIDE
    max_pixels: int = ENCODER_MAX_SIDE * ENCODER_MAX_SIDE

    def within_encoder(self) -> OutputBounds:
        """These bounds, never looser than what the encoder opens."""
        return OutputBounds(
            min(self.max_width, ENCODER_MAX_SIDE),
            min(self.max_height, ENCODER_MAX_SIDE),
            min(self.max_pixels, ENCODER_MAX_SIDE * ENCODER_MAX_SIDE),
        )


@dataclass(frozen=True)
class Caption:
    """One caption line, timed in the *source's* timeline (seconds)."""

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class RenderSpec:
    """Everything that decides the output's pixels and samples; equal specs give equal files."""

    start_s: float
    end_s: float
    aspect_ratio: AspectRatio = "9:16"
    resolution: Resolution = "720p"
    focus_x: float = 0.5
    captions: tuple[Caption, ...] = ()
    preset: str = "veryfast"
    crf: int = 23
    chunk_s: float = 6.0


@dataclass(frozen=True)
class SourceInfo:
    """What probing a source told us; sizes are *display* sizes (SAR and rotation applied)."""

    duration_s: float
    width: int
    height: int
    fps: float
    has_audio: bool
    video_codec: str
    audio_codec: str | None = None
    audio_channels: int = 0
    audio_sample_rate: int = 0
    rotation: int = 0
    coded_width: int = 0
    coded_height: int = 0
    sample_aspect_ratio: float = 1.0
    #: Seconds (from the timeline origin) of the video keyframes the container indexes, if any;
    #: chunk edges are placed just after them so chunks need no pre-roll decoding.
    keyframes_s: tuple[float, ...] = ()


@dataclass(frozen=True)
class ChunkPlan:
    """One independently renderable slice of the moment, in output frames [first, end)."""

    index: int
    first_frame: int
    end_frame: int
    start_s: float  # source time of the chunk's first output frame
    end_s: float  # source time where the chunk stops (exclusive)

    @property
    def frame_count(self) -> int:
        return self.end_frame - self.first_frame


@dataclass(frozen=True)
class RenderPlan:
    """The whole moment planned: output size and rate, total frames, and its chunks."""

    width: int
    height: int
    fps_num: int
    fps_den: int
    total_frames: int
    chunks: tuple[ChunkPlan, ...]
    has_audio: bool

    @property
    def fps(self) -> float:
        return self.fps_num / self.fps_den


@dataclass(frozen=True)
class Progress:
    """A progress report; ``eta_s`` is None until there is enough history to estimate."""

    frames_done: int
    frames_total: int
    chunks_done: int
    chunks_total: int
    speed: float  # output seconds rendered per wall-clock second (x real time)
    eta_s: float | None
    progress: float = field(default=0.0)  # 0..1, never decreasing within one render


@dataclass(frozen=True)
class OutputInfo:
    """What the finished MP4 is, as reported to users."""

    path: str
    size_bytes: int
    duration_s: float
    width: int
    height: int
    has_audio: bool


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]
