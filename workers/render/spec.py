"""Values that describe a render: what to cut, how to frame it, and how far along it is.

These travel between processes (the service stores them, workers rebuild them), so they
are frozen dataclasses of plain values; a spec and a plan also round-trip through JSON
(``to_json``/``from_json``), so a plan made once can be stored and rendered anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, TypeVar, cast, get_args

from .focus import FocusMode, FocusTrack, track_from_json, track_to_json

#: The framings and sizes we render: declared here once; the API's request and answer
#: models, the planner and the command line all take them from these two types.
AspectRatio = Literal["9:16", "1:1", "4:5", "16:9", "original"]
Resolution = Literal["720p", "1080p"]

ASPECT_RATIOS: tuple[AspectRatio, ...] = get_args(AspectRatio)
RESOLUTIONS: tuple[Resolution, ...] = get_args(Resolution)

#: How captions look and where they sit (docs/api.md "Caption styles").
CaptionPreset = Literal["classic", "karaoke", "box", "pop"]
CaptionPosition = Literal["bottom", "middle", "top"]
CAPTION_PRESETS: tuple[CaptionPreset, ...] = get_args(CaptionPreset)
CAPTION_POSITIONS: tuple[CaptionPosition, ...] = get_args(CaptionPosition)
CAPTION_SIZE_RANGE = (0.5, 2.0)
CAPTION_MAX_LINES_RANGE = (1, 3)
_HEX_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
#: Float slack when checking word times against their caption (well under one frame).
CAPTION_TIME_SLACK_S = 1e-3

#: Exact output sizes (width, height) per docs/api.md; "original" is computed from the source.
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

_Value = TypeVar("_Value")


def _from_dict(cls: type[_Value], obj: Mapping[str, Any]) -> _Value:
    """``cls(**obj)`` for a flat dataclass, keeping only its fields; raises ValueError when
    one without a default is missing (a stored value from another version is refused)."""
    names = {f.name for f in fields(cast(Any, cls))}
    try:
        return cls(**{k: v for k, v in obj.items() if k in names})
    except TypeError as exc:
        raise ValueError(f"not a {cls.__name__}: {exc}") from exc


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
class Word:
    """One spoken word of a caption, timed in the source's timeline (seconds)."""

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Caption:
    """One caption line, timed in the *source's* timeline (seconds), with its words' timing
    when known (karaoke and pop styles light them up as they are said)."""

    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = ()

    def words_problem(self) -> str | None:
        """Why ``words`` cannot time this caption (None when they can): each word inside the
        caption's span, in order, not overlapping, and joined by spaces equal to the text
        (whitespace normalised)."""
        if not self.words:
            return None
        previous_end = self.start_s - CAPTION_TIME_SLACK_S
        for index, word in enumerate(self.words):
            if not word.text.strip() or any(ch.isspace() for ch in word.text.strip()):
                return f"words[{index}].text must be one word"
            if not word.end_s > word.start_s:
                return f"words[{index}].end_s must be greater than its start_s"
            if word.start_s < previous_end - CAPTION_TIME_SLACK_S:
                return f"words[{index}] starts before the previous word ends"
            if word.end_s > self.end_s + CAPTION_TIME_SLACK_S:
                return f"words[{index}] ends after the caption ({self.end_s} s)"
            previous_end = word.end_s
        joined = " ".join(word.text.strip() for word in self.words)
        if joined != " ".join(self.text.split()):
            return "the words joined by spaces must equal the caption text"
        return None


@dataclass(frozen=True)
class CaptionStyle:
    """How captions are drawn: a preset, where they sit, their size (1.0 = 6 % of the short
    side), colours as ``#RRGGBB`` and how many lines one caption may take."""

    preset: CaptionPreset = "classic"
    position: CaptionPosition = "bottom"
    size: float = 1.0
    color: str = "#FFFFFF"
    highlight_color: str = "#FFFF00"
    max_lines: int = 2

    def problem(self) -> str | None:
        """Why this style cannot be drawn (None when it can), naming the field."""
        if self.preset not in CAPTION_PRESETS:
            return f"preset must be one of {', '.join(CAPTION_PRESETS)}"
        if self.position not in CAPTION_POSITIONS:
            return f"position must be one of {', '.join(CAPTION_POSITIONS)}"
        low, high = CAPTION_SIZE_RANGE
        if not (isinstance(self.size, int | float) and low <= self.size <= high):
            return f"size must be between {low} and {high}"
        for name in ("color", "highlight_color"):
            if not _HEX_COLOR.fullmatch(str(getattr(self, name))):
                return f"{name} must be a colour as #RRGGBB"
        low_lines, high_lines = CAPTION_MAX_LINES_RANGE
        if not (isinstance(self.max_lines, int) and low_lines <= self.max_lines <= high_lines):
            return f"max_lines must be between {low_lines} and {high_lines}"
        return None

    @classmethod
    def from_json(cls, obj: Mapping[str, Any] | None) -> CaptionStyle:
        """A style from its JSON fields (missing ones take their defaults)."""
        return _from_dict(cls, obj or {})


def caption_from_json(obj: Mapping[str, Any]) -> Caption:
    """A caption (with its words) from ``{"start_s","end_s","text","words"?}``."""
    words = tuple(
        Word(start_s=float(w["start_s"]), end_s=float(w["end_s"]), text=str(w["text"]))
        for w in obj.get("words") or ()
    )
    return Caption(
        start_s=float(obj["start_s"]), end_s=float(obj["end_s"]), text=str(obj["text"]), words=words
    )


@dataclass(frozen=True)
class RenderSpec:
    """Everything that decides the output's pixels and samples; equal specs give equal files."""

    start_s: float
    end_s: float
    aspect_ratio: AspectRatio = "9:16"
    resolution: Resolution = "720p"
    focus_x: float = 0.5
    captions: tuple[Caption, ...] = ()
    #: The crop centre over time (source seconds); empty: the constant ``focus_x``.
    focus_track: FocusTrack = ()
    #: "auto": the track is made from faces before any chunk renders (``analyse_focus``).
    focus_mode: FocusMode = "manual"
    caption_style: CaptionStyle = CaptionStyle()
    preset: str = "veryfast"
    crf: int = 23
    chunk_s: float = 6.0

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values; ``from_json`` gives back an equal spec."""
        obj = asdict(self)
        obj["focus_track"] = track_to_json(self.focus_track)
        return obj

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> RenderSpec:
        """The spec ``to_json`` wrote; raises ValueError for anything else."""
        try:
            captions = tuple(caption_from_json(c) for c in obj.get("captions", ()))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a caption: {exc}") from exc
        style = CaptionStyle.from_json(obj.get("caption_style"))
        try:
            track = track_from_json(obj.get("focus_track", ()))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a focus track: {exc}") from exc
        return replace(
            _from_dict(cls, obj), captions=captions, caption_style=style, focus_track=track
        )

    @property
    def needs_analysis(self) -> bool:
        """An auto spec whose track is not made yet: no chunk may render it."""
        return self.focus_mode == "auto" and not self.focus_track


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

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values without ``keyframes_s``: those only place chunk edges, which a
        stored plan already holds, and a long source has thousands of them."""
        return {k: v for k, v in asdict(self).items() if k != "keyframes_s"}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> SourceInfo:
        """The facts ``to_json`` wrote (no keyframes); raises ValueError for anything else."""
        return replace(_from_dict(cls, obj), keyframes_s=())


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
    #: The probed source the plan was made for; rendering a chunk reads its size, SAR and
    #: rotation from here instead of probing again (None: the chunk renderer probes).
    source: SourceInfo | None = None

    @property
    def fps(self) -> float:
        return self.fps_num / self.fps_den

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (the source without its keyframes); see ``from_json``."""
        obj = asdict(self)
        obj["source"] = self.source.to_json() if self.source is not None else None
        return obj

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> RenderPlan:
        """The plan ``to_json`` wrote, ready to render a chunk, the audio or the join;
        raises ValueError for anything else."""
        chunks = tuple(_from_dict(ChunkPlan, c) for c in obj.get("chunks", ()))
        raw_source = obj.get("source")
        source = SourceInfo.from_json(raw_source) if raw_source is not None else None
        return replace(_from_dict(cls, obj), chunks=chunks, source=source)


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
