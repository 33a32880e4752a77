"""From faces seen at sampled times to a focus track: pick the subject, then fly a virtual
camera after it — still inside a dead zone, eased starts and stops, a pan speed limit, and a
hard cut when the subject jumps further than a pan could follow.

Everything here is in fractions of the display frame; ``crop_w``/``crop_h`` are the crop's
size in those units (a 9:16 crop of a 16:9 frame is 0.316 wide, 1.0 high).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from .faces import Face
from .focus import MAX_FOCUS_POINTS, FocusPoint, FocusTrack

#: Two detections in consecutive samples are one face when their centres are this close
#: (in face widths) — a face moves far less than its own width in 0.2 s at any sane pan.
LINK_DISTANCE_FACES = 1.5
#: A face may go unseen this long and still be the same person when it reappears.
MAX_GAP_S = 1.0
#: The camera flies this far under ``max_pan``, so the smooth path drawn through its
#: positions (which rounds the corners a little) stays under the limit too.
SPEED_MARGIN = 0.95
#: A face seen in fewer samples than this is noise (a test pattern, a poster in the back).
MIN_SAMPLES = 3


@dataclass(frozen=True)
class CameraSettings:
    """How the virtual camera moves; speeds in crop widths per second."""

    max_pan: float = 0.25
    #: The camera rests while the subject's centre stays within this fraction of the crop
    #: width either side of the crop's centre.
    dead_zone: float = 0.15
    #: Acceleration (crop widths/s²): from rest to ``max_pan`` in 0.5 s, eased both ways.
    acceleration: float = 0.5
    #: Cut instead of panning when the subject lands further than this many seconds of
    #: panning at ``max_pan`` away.
    cut_after_s: float = 1.5
    #: Simulation step of the camera (s).
    step_s: float = 0.04


@dataclass(frozen=True)
class Sample:
    """The faces found in the picture shown at source time ``t``."""

    t: float
    faces: tuple[Face, ...]


@dataclass
class _Tracklet:
    """One face followed through the samples: the sample indexes and boxes."""

    seen: list[tuple[int, Face]] = field(default_factory=list)

    @property
    def last(self) -> tuple[int, Face]:
        return self.seen[-1]

    def weight(self) -> float:
        """Present longest first, then the larger face."""
        areas = sorted(f.area for _, f in self.seen)
        return len(self.seen) * math.sqrt(areas[len(areas) // 2])


def link_faces(samples: Sequence[Sample], interval_s: float) -> list[_Tracklet]:
    """Faces chained across samples (nearest centre, within ``LINK_DISTANCE_FACES`` face
    widths and ``MAX_GAP_S``); chains seen fewer than ``MIN_SAMPLES`` times are dropped."""
    open_: list[_Tracklet] = []
    done: list[_Tracklet] = []
    max_gap = max(1, round(MAX_GAP_S / interval_s))
    for index, sample in enumerate(samples):
        still: list[_Tracklet] = []
        for tracklet in open_:
            (done if index - tracklet.last[0] > max_gap else still).append(tracklet)
        open_ = still
        taken: set[int] = set()
        for face in sorted(sample.faces, key=lambda f: -f.area):
            best, best_d = None, LINK_DISTANCE_FACES
            for k, tracklet in enumerate(open_):
                if k in taken or tracklet.last[0] == index:
                    continue
                prev = tracklet.last[1]
                d = math.hypot(face.cx - prev.cx, face.cy - prev.cy) / max(prev.width, 1e-6)
                if d < best_d:
                    best, best_d = k, d
            if best is None:
                open_.append(_Tracklet([(index, face)]))
                taken.add(len(open_) - 1)
            else:
                open_[best].seen.append((index, face))
                taken.add(best)
    return [t for t in done + open_ if len(t.seen) >= MIN_SAMPLES]


def subject_path(samples: Sequence[Sample], interval_s: float) -> list[Face | None]:
    """The subject's face at every sample (None where nobody is seen): the strongest chain
    present at the start, kept while it lasts (stickiness), then the strongest present."""
    tracklets = link_faces(samples, interval_s)
    at: list[dict[int, Face]] = [dict() for _ in samples]
    for k, tracklet in enumerate(tracklets):
        for index, face in tracklet.seen:
            at[index][k] = face
    ends = [t.last[0] for t in tracklets]
    starts = [t.seen[0][0] for t in tracklets]
    path: list[Face | None] = []
    current: int | None = None
    for index in range(len(samples)):
        if current is not None and ends[current] < index:
            current = None
        if current is None:
            live = [k for k in range(len(tracklets)) if starts[k] <= index <= ends[k]]
            if live:
                current = max(live, key=lambda k: tracklets[k].weight())
        path.append(at[index].get(current) if current is not None else None)
    return path


def _fill(path: Sequence[Face | None]) -> list[Face] | None:
    """Gaps held at the last known face (the first one before any); None when nobody at all."""
    first = next((f for f in path if f is not None), None)
    if first is None:
        return None
    filled, last = [], first
    for face in path:
        last = face if face is not None else last
        filled.append(last)
    return filled


def _median3(values: Sequence[float], i: int) -> float:
    window = sorted(values[max(0, i - 1) : i + 2])
    return window[len(window) // 2]


@dataclass
class _Camera:
    """The simulated camera on one axis: position, velocity, resting or chasing a target."""

    settings: CameraSettings
    crop: float
    low: float
    high: float
    position: float
    velocity: float = 0.0
    moving: bool = False

    def clamp(self, value: float) -> float:
        return min(max(value, self.low), self.high)

    def step(self, target: float, dt: float) -> bool:
        """Advance ``dt`` towards ``target``; True when this step was a cut."""
        s = self.settings
        target = self.clamp(target)
        offset = target - self.position
        if abs(offset) > s.max_pan * self.crop * s.cut_after_s:
            self.position, self.velocity, self.moving = target, 0.0, False
            return True
        if not self.moving and abs(offset) <= s.dead_zone * self.crop:
            return False
        self.moving = True
        accel = s.acceleration * self.crop
        v_max = s.max_pan * self.crop * SPEED_MARGIN
        # the speed that still stops at the target with the allowed deceleration
        wanted = math.copysign(min(v_max, math.sqrt(2 * accel * abs(offset))), offset)
        dv = max(-accel * dt, min(accel * dt, wanted - self.velocity))
        self.velocity = max(-v_max, min(v_max, self.velocity + dv))
        moved = self.velocity * dt
        if abs(moved) >= abs(offset) and abs(self.velocity) <= accel * dt * 2:
            self.position, self.velocity, self.moving = target, 0.0, False
        else:
            self.position = self.clamp(self.position + moved)
            if self.position in (self.low, self.high) and self.position == target:
                self.velocity, self.moving = 0.0, False
        return False


def follow(
    samples: Sequence[Sample],
    start_s: float,
    end_s: float,
    crop_w: float,
    crop_h: float,
    settings: CameraSettings | None = None,
) -> FocusTrack:
    """The focus track of a camera following the subject of ``samples`` (sorted by time);
    empty when no face is seen often enough to be a subject."""
    s = settings or CameraSettings()
    if not samples:
        return ()
    interval = (samples[-1].t - samples[0].t) / max(1, len(samples) - 1) or 0.2
    faces = _fill(subject_path(samples, interval))
    if faces is None:
        return ()
    xs = [f.cx for f in faces]
    ys = [f.cy for f in faces]
    xs = [_median3(xs, i) for i in range(len(xs))]
    ys = [_median3(ys, i) for i in range(len(ys))]
    track_y = crop_h < 1.0 - 1e-6
    cam_x = _Camera(s, crop_w, crop_w / 2, 1 - crop_w / 2, 0.0)
    cam_x.position = cam_x.clamp(xs[0])
    cam_y = _Camera(s, crop_h, crop_h / 2, 1 - crop_h / 2, 0.0)
    cam_y.position = cam_y.clamp(ys[0])
    points: list[FocusPoint] = []

    def emit(t: float, at: tuple[float, float]) -> None:
        point = FocusPoint(round(t, 4), round(at[0], 5), round(at[1], 5) if track_y else None)
        if points and points[-1].t == point.t and not (len(points) > 1 and points[-2].t == t):
            points[-1] = point
        else:
            points.append(point)

    emit(start_s, (cam_x.position, cam_y.position))
    t, k = start_s, 0
    steps = max(1, math.ceil((end_s - start_s) / s.step_s))
    was_still = True
    for n in range(1, steps + 1):
        t_next = min(end_s, start_s + n * s.step_s)
        while k + 1 < len(samples) and samples[k + 1].t <= t_next + 1e-9:
            k += 1
        before = (cam_x.position, cam_y.position)
        cut = cam_x.step(xs[k], t_next - t)
        cut = (cam_y.step(ys[k], t_next - t) if track_y else False) or cut
        after = (cam_x.position, cam_y.position)
        still = after == before
        if cut:
            emit(t_next, before)
            points.append(
                FocusPoint(
                    points[-1].t, round(after[0], 5), round(after[1], 5) if track_y else None
                )
            )
        elif not still:
            if was_still:
                emit(t, before)
            emit(t_next, after)
        was_still = still
        t = t_next
    if points[-1].t < end_s:
        emit(end_s, (cam_x.position, cam_y.position))
    spacing = 0.2
    thinned = _thin(tuple(points), spacing)
    while len(thinned) > MAX_FOCUS_POINTS:
        spacing *= 1.5
        thinned = _thin(tuple(points), spacing)
    return thinned


def _thin(track: FocusTrack, keep_every_s: float = 0.2) -> FocusTrack:
    """Fewer points: drop those closer than ``keep_every_s`` to the previous kept one, but
    never a cut's pair, a rest's first or last point, nor the track's last point."""
    if len(track) <= 2:
        return track
    kept = [track[0]]
    for i in range(1, len(track)):
        p = track[i]
        cut = p.t == track[i - 1].t or (i + 1 < len(track) and track[i + 1].t == p.t)
        resting = (p.x, p.y) == (track[i - 1].x, track[i - 1].y) or (
            i + 1 < len(track) and (p.x, p.y) == (track[i + 1].x, track[i + 1].y)
        )
        if cut or resting or i == len(track) - 1 or p.t - kept[-1].t >= keep_every_s - 1e-9:
            kept.append(p)
    return tuple(kept)
