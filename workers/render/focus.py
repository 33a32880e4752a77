"""Focus tracks: where the crop's centre sits over time, and the smooth path between keyframes.

A track is a tuple of ``FocusPoint`` in source time. Between two points the centre follows a
monotone cubic (Fritsch–Carlson), so it passes through every keyframe exactly, eases in and out
of a rest and never overshoots; two points at the same time are a hard cut. ``x``/``y`` are
fractions of the display width/height (0..1); ``y`` only matters when the crop is shorter than
the source, and a point without it keeps the crop vertically centred.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

#: How the crop centre is chosen: the moment's static ``focus_x`` / its track, or faces.
FocusMode = Literal["manual", "auto"]
FOCUS_MODES: tuple[FocusMode, ...] = get_args(FocusMode)
#: The most points a track may hold (a 180 s moment at 5 points a second fits).
MAX_FOCUS_POINTS = 1000
#: Float slack when checking a point's time against the moment (well under a frame).
TIME_SLACK_S = 1e-3


@dataclass(frozen=True)
class FocusPoint:
    """The crop centre at source time ``t`` (seconds); ``y`` None keeps it vertically centred."""

    t: float
    x: float
    y: float | None = None

    def to_json(self) -> dict[str, float]:
        out = {"t": self.t, "x": self.x}
        if self.y is not None:
            out["y"] = self.y
        return out


FocusTrack = tuple[FocusPoint, ...]


class TrackProblem(ValueError):
    """A track that cannot be rendered; ``index`` names the first bad point (None: the list)."""

    def __init__(self, message: str, index: int | None) -> None:
        super().__init__(message)
        self.index = index


def track_from_json(items: Iterable[Mapping[str, Any]]) -> FocusTrack:
    """The track ``FocusPoint.to_json`` wrote (a stored plan, a moment, a CLI file)."""
    points = []
    for item in items:
        y = item.get("y")
        points.append(
            FocusPoint(float(item["t"]), float(item["x"]), None if y is None else float(y))
        )
    return tuple(points)


def track_to_json(track: Sequence[FocusPoint]) -> list[dict[str, float]]:
    return [p.to_json() for p in track]


def check_track(track: Sequence[FocusPoint], start_s: float, end_s: float) -> None:
    """Raise TrackProblem naming the first point that is not finite, outside 0..1 or the
    moment, or earlier than the one before (equal times are a cut; three at once are not)."""
    if not track:
        raise TrackProblem("a track needs at least one point", None)
    if len(track) > MAX_FOCUS_POINTS:
        raise TrackProblem(f"at most {MAX_FOCUS_POINTS} points", MAX_FOCUS_POINTS)
    for index, point in enumerate(track):
        values = (point.t, point.x) if point.y is None else (point.t, point.x, point.y)
        if not all(math.isfinite(v) for v in values):
            raise TrackProblem("t, x and y must be finite numbers", index)
        if not 0.0 <= point.x <= 1.0 or (point.y is not None and not 0.0 <= point.y <= 1.0):
            raise TrackProblem("x and y must be between 0 and 1", index)
        if not start_s - TIME_SLACK_S <= point.t <= end_s + TIME_SLACK_S:
            raise TrackProblem(
                f"t {point.t:g} lies outside the moment {start_s:g}–{end_s:g} s", index
            )
        if index and point.t < track[index - 1].t:
            raise TrackProblem(
                f"t {point.t:g} comes before the previous point's {track[index - 1].t:g}", index
            )
        if index >= 2 and point.t == track[index - 2].t:
            raise TrackProblem("at most two points may share a time (a cut)", index)


def _slopes(ts: Sequence[float], vs: Sequence[float]) -> list[float]:
    """Fritsch–Carlson tangents: zero at extremes and at the ends, never overshooting."""
    n = len(ts)
    secants = [(vs[i + 1] - vs[i]) / (ts[i + 1] - ts[i]) for i in range(n - 1)]
    tangents = [0.0] * n
    for i in range(1, n - 1):
        a, b = secants[i - 1], secants[i]
        if a * b > 0:
            wa = 2 * (ts[i + 1] - ts[i]) + (ts[i] - ts[i - 1])
            wb = (ts[i + 1] - ts[i]) + 2 * (ts[i] - ts[i - 1])
            tangents[i] = (wa + wb) / (wa / a + wb / b)
    return tangents


@dataclass(frozen=True)
class _Segment:
    """Points between two cuts, with their tangents per axis."""

    ts: tuple[float, ...]
    xs: tuple[float, ...]
    ys: tuple[float | None, ...]
    dx: tuple[float, ...]
    dy: tuple[float, ...]


def _hermite(t: float, t0: float, t1: float, v0: float, v1: float, d0: float, d1: float) -> float:
    h = t1 - t0
    s = (t - t0) / h
    s2, s3 = s * s, s * s * s
    return (
        (2 * s3 - 3 * s2 + 1) * v0
        + (s3 - 2 * s2 + s) * h * d0
        + (-2 * s3 + 3 * s2) * v1
        + (s3 - s2) * h * d1
    )


class FocusPath:
    """A track ready to answer "where is the centre at ``t``": constant before the first
    point and after the last, a monotone cubic between points, a jump at a cut."""

    def __init__(self, track: Sequence[FocusPoint]) -> None:
        if not track:
            raise ValueError("a focus path needs at least one point")
        self._segments: list[_Segment] = []
        self._starts: list[float] = []
        pieces: list[list[FocusPoint]] = [[track[0]]]
        for point in track[1:]:
            if point.t == pieces[-1][-1].t:
                pieces.append([point])
            else:
                pieces[-1].append(point)
        for piece in pieces:
            ts = tuple(p.t for p in piece)
            xs = tuple(p.x for p in piece)
            ys = tuple(p.y for p in piece)
            y_values = [0.5 if y is None else y for y in ys]
            dx = tuple(_slopes(ts, xs)) if len(ts) > 1 else (0.0,)
            dy = tuple(_slopes(ts, y_values)) if len(ts) > 1 else (0.0,)
            self._segments.append(_Segment(ts, xs, ys, dx, dy))
            self._starts.append(ts[0])

    def at(self, t: float) -> tuple[float, float | None]:
        """(x, y) at source time ``t``; y None when the track never gives one there."""
        k = max(0, bisect.bisect_right(self._starts, t) - 1)
        seg = self._segments[k]
        if t <= seg.ts[0]:
            return seg.xs[0], seg.ys[0]
        if t >= seg.ts[-1]:
            return seg.xs[-1], seg.ys[-1]
        i = bisect.bisect_right(seg.ts, t) - 1
        t0, t1 = seg.ts[i], seg.ts[i + 1]
        x = _hermite(t, t0, t1, seg.xs[i], seg.xs[i + 1], seg.dx[i], seg.dx[i + 1])
        y0, y1 = seg.ys[i], seg.ys[i + 1]
        y: float | None = None
        if y0 is not None or y1 is not None:
            a = 0.5 if y0 is None else y0
            b = 0.5 if y1 is None else y1
            y = _hermite(t, t0, t1, a, b, seg.dy[i], seg.dy[i + 1])
        return min(max(x, 0.0), 1.0), None if y is None else min(max(y, 0.0), 1.0)
