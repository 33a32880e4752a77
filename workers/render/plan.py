"""Turning a spec and a probed source into an exact output size, frame rate and chunk list."""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import replace
from fractions import Fraction

from .errors import InvalidRenderSpec, MomentOutOfRange, MomentTooShort, OutputTooLarge
from .focus import FOCUS_MODES, TrackProblem, check_track
from .spec import (
    ASPECT_RATIOS,
    OUTPUT_SIZES,
    RESOLUTIONS,
    ChunkPlan,
    OutputBounds,
    RenderPlan,
    RenderSpec,
    SourceInfo,
)

#: Output frame rates we snap to; anything faster than 60 fps is rendered at 60.
_STANDARD_RATES = (
    Fraction(24000, 1001),
    Fraction(24),
    Fraction(25),
    Fraction(30000, 1001),
    Fraction(30),
    Fraction(48),
    Fraction(50),
    Fraction(60000, 1001),
    Fraction(60),
)
MAX_FPS = Fraction(60)
#: How far (seconds) a moment may run past the probed end before it counts as out of range.
END_TOLERANCE_S = 0.05
#: Chunks start this long after an indexed keyframe: index times may be decode times, which
#: run a few frames ahead of presentation times when B-frames are used.
KEYFRAME_MARGIN_S = 0.1
_SHORT_SIDE = {"720p": 720, "1080p": 1080}
#: What the encoder itself opens; the service may pass tighter bounds (its settings).
ENCODER_BOUNDS = OutputBounds()


def output_size(source: SourceInfo, aspect_ratio: str, resolution: str) -> tuple[int, int]:
    """(width, height) of the output for a probed source; see ``output_size_for``."""
    return output_size_for(source.width, source.height, aspect_ratio, resolution)


def output_size_for(width: int, height: int, aspect_ratio: str, resolution: str) -> tuple[int, int]:
    """(width, height) from the docs/api.md table for a source of ``width``×``height`` display
    pixels; "original" keeps the display aspect, short side 720/1080, both sides even."""
    if resolution not in RESOLUTIONS:
        raise InvalidRenderSpec(f"resolution must be one of {', '.join(RESOLUTIONS)}")
    if aspect_ratio not in ASPECT_RATIOS:
        raise InvalidRenderSpec(f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}")
    if aspect_ratio != "original":
        return OUTPUT_SIZES[(aspect_ratio, resolution)]
    if width <= 0 or height <= 0:
        raise InvalidRenderSpec("the source has no usable frame size")
    short = _SHORT_SIDE[resolution]
    if width >= height:
        return _even(short * width / height), short
    return short, _even(short * height / width)


def check_output_size(width: int, height: int, bounds: OutputBounds = ENCODER_BOUNDS) -> None:
    """Raise OutputTooLarge, naming the size and the limit, when ``width``×``height`` is past
    ``bounds`` (by default: what the encoder opens), so it never fails inside libav."""
    if width > bounds.max_width or height > bounds.max_height:
        raise OutputTooLarge(
            f"the output would be {width}×{height} pixels; the limit is "
            f"{bounds.max_width}×{bounds.max_height} — choose a fixed aspect ratio "
            "(9:16, 1:1, 4:5 or 16:9) or a lower resolution"
        )
    if width * height > bounds.max_pixels:
        raise OutputTooLarge(
            f"the output would be {width}×{height} = {width * height} pixels; the limit is "
            f"{bounds.max_pixels} pixels — choose a fixed aspect ratio or a lower resolution"
        )


def moment_frames(start_s: float, end_s: float, source_fps: float) -> int:
    """Output frames of the moment [start_s, end_s) at the output rate of a ``source_fps``
    source; raises MomentTooShort when that rounds to none (the moment is under a frame)."""
    rate = output_rate(source_fps)
    frames = round((end_s - start_s) * rate)
    if frames < 1:
        raise MomentTooShort(
            f"the moment lasts {end_s - start_s:.4f} s, less than one frame of the source "
            f"({float(1 / rate):.4f} s at {float(rate):.3f} fps)"
        )
    return frames


def output_rate(source_fps: float) -> Fraction:
    """A constant output rate: the source's average rate snapped to a standard one, ≤ 60."""
    if not math.isfinite(source_fps) or source_fps <= 0:
        return Fraction(30)
    nearest = min(_STANDARD_RATES, key=lambda rate: abs(source_fps - float(rate)))
    if abs(source_fps - float(nearest)) / float(nearest) < 0.02:
        return nearest
    if source_fps > float(MAX_FPS):
        return MAX_FPS
    return Fraction(max(1, round(source_fps)))


def plan_render(source: SourceInfo, spec: RenderSpec) -> RenderPlan:
    """Validate ``spec`` against ``source`` and split the moment into ~``chunk_s`` chunks.

    Chunk edges fall on output frames, so chunks rendered apart join into one continuous
    timeline. Raises MomentOutOfRange (MomentTooShort), OutputTooLarge or InvalidRenderSpec.
    """
    _validate(source, spec)
    width, height = output_size(source, spec.aspect_ratio, spec.resolution)
    check_output_size(width, height)
    rate = output_rate(source.fps)
    total = moment_frames(spec.start_s, spec.end_s, source.fps)
    edges = _chunk_edges(source, spec, rate, total)
    chunks = []
    for index, (first, end) in enumerate(itertools.pairwise(edges)):
        chunks.append(
            ChunkPlan(
                index=index,
                first_frame=first,
                end_frame=end,
                start_s=spec.start_s + float(first / rate),
                end_s=spec.start_s + float(end / rate),
            )
        )
    return RenderPlan(
        width=width,
        height=height,
        fps_num=rate.numerator,
        fps_den=rate.denominator,
        total_frames=total,
        chunks=tuple(chunks),
        has_audio=source.has_audio,
        source=source,
    )


def _chunk_edges(source: SourceInfo, spec: RenderSpec, rate: Fraction, total: int) -> list[int]:
    """Output-frame indices where chunks start (plus ``total``): every ~chunk_s, moved to just
    after a nearby source keyframe when there is one so a chunk's seek lands right on it."""
    per_chunk = max(1, round(spec.chunk_s * rate))
    keys = sorted(source.keyframes_s)
    edges = [0]
    nominal = per_chunk
    while total - nominal > per_chunk // 4:
        edge = nominal
        wanted = spec.start_s + float(nominal / rate)
        i = bisect.bisect_left(keys, wanted)
        near = [k for k in keys[max(0, i - 1) : i + 1] if abs(k - wanted) <= spec.chunk_s / 2]
        if near:
            key = min(near, key=lambda k: abs(k - wanted))
            snapped = math.ceil((key + KEYFRAME_MARGIN_S - spec.start_s) * rate - 1e-9)
            if edges[-1] < snapped < total:
                edge = snapped
        edges.append(edge)
        nominal = edge + per_chunk
    edges.append(total)
    return edges


def single_chunk(plan: RenderPlan, spec: RenderSpec) -> RenderPlan:
    """The same plan with the whole moment as one chunk (the unchunked render)."""
    whole = ChunkPlan(0, 0, plan.total_frames, spec.start_s, plan.chunks[-1].end_s)
    return replace(plan, chunks=(whole,))


def _validate(source: SourceInfo, spec: RenderSpec) -> None:
    values = (spec.start_s, spec.end_s, spec.focus_x, spec.chunk_s)
    if not all(math.isfinite(v) for v in values):
        raise InvalidRenderSpec("start, end, focus_x and chunk_s must be finite numbers")
    if spec.start_s < 0 or spec.end_s <= spec.start_s:
        raise MomentOutOfRange(
            f"the moment {spec.start_s:.3f} to {spec.end_s:.3f} s is empty or starts before 0"
        )
    if source.duration_s > 0 and spec.end_s > source.duration_s + END_TOLERANCE_S:
        raise MomentOutOfRange(
            f"the moment ends at {spec.end_s:.3f} s but the source lasts {source.duration_s:.3f} s"
        )
    if not 0.0 <= spec.focus_x <= 1.0:
        raise InvalidRenderSpec("focus_x must be between 0 and 1")
    if spec.focus_mode not in FOCUS_MODES:
        raise InvalidRenderSpec(f"focus_mode must be one of {', '.join(FOCUS_MODES)}")
    if spec.focus_track:
        try:
            check_track(spec.focus_track, spec.start_s, spec.end_s)
        except TrackProblem as exc:
            where = "" if exc.index is None else f"[{exc.index}]"
            raise InvalidRenderSpec(f"focus_track{where}: {exc}") from exc
    if spec.chunk_s <= 0:
        raise InvalidRenderSpec("chunk_s must be positive")
    if not 0 <= spec.crf <= 51:
        raise InvalidRenderSpec("crf must be between 0 and 51")
    if spec.preset not in _PRESETS:
        raise InvalidRenderSpec(f"preset must be one of {', '.join(_PRESETS)}")
    for index, caption in enumerate(spec.captions):
        if not caption.end_s > caption.start_s or not caption.text.strip():
            raise InvalidRenderSpec(f"caption {index} needs text and end_s after start_s")
        problem = caption.words_problem()
        if problem is not None:
            raise InvalidRenderSpec(f"caption {index}: {problem}")
    style_problem = spec.caption_style.problem()
    if style_problem is not None:
        raise InvalidRenderSpec(f"caption_style: {style_problem}")


_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))
