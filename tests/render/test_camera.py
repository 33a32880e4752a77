"""The virtual camera and its choice of subject, on faces given by hand (no video)."""

from __future__ import annotations

import itertools

from workers.render.camera import CameraSettings, Sample, follow
from workers.render.faces import Face
from workers.render.focus import FocusPath

CROP_W = 0.3164  # a 9:16 crop of a 16:9 frame
FPS = 5


def face(cx: float, width: float = 0.06, cy: float = 0.3) -> Face:
    return Face(cx - width / 2, cy - width, cx + width / 2, cy + width, 0.9)


def samples(seconds: float, faces_at: object) -> list[Sample]:
    return [
        Sample(k / FPS, tuple(faces_at(k / FPS)))  # type: ignore[operator]
        for k in range(int(seconds * FPS) + 1)
    ]


def xs(track: object, seconds: float, fps: int = 50) -> list[float]:
    path = FocusPath(track)  # type: ignore[arg-type]
    return [path.at(k / fps)[0] for k in range(int(seconds * fps) + 1)]


def test_no_face_gives_no_track() -> None:
    assert follow(samples(4, lambda t: []), 0, 4, CROP_W, 1.0) == ()


def test_a_face_seen_twice_is_noise() -> None:
    track = follow(samples(4, lambda t: [face(0.7)] if t in (1.0, 2.0) else []), 0, 4, CROP_W, 1)
    assert track == ()


def test_jitter_inside_the_dead_zone_never_moves_the_camera() -> None:
    wobble = samples(10, lambda t: [face(0.4 + (0.02 if int(t * FPS) % 2 else -0.02))])
    track = follow(wobble, 0, 10, CROP_W, 1.0)
    assert len({p.x for p in track}) == 1


def test_pans_are_eased_and_never_faster_than_the_limit() -> None:
    settings = CameraSettings(max_pan=0.25)
    # the face walks at 0.19 crop widths a second; the camera catches up at up to 0.25
    walk = samples(12, lambda t: [face(min(0.2 + 0.06 * max(0.0, t - 1), 0.8))])
    positions = xs(follow(walk, 0, 12, CROP_W, 1.0, settings), 12)
    speeds = [abs(b - a) * 50 / CROP_W for a, b in itertools.pairwise(positions)]
    assert 0.2 < max(speeds) <= 0.25 + 1e-6
    start = next(i for i, v in enumerate(speeds) if v > 0)
    assert speeds[start] < 0.05, "the pan starts gently"
    assert positions[-1] == positions[-2], "and comes to rest"


def test_a_jump_across_the_frame_is_a_cut_not_a_pan() -> None:
    jump = samples(8, lambda t: [face(0.2 if t < 4 else 0.8)])
    track = follow(jump, 0, 8, CROP_W, 1.0)
    cuts = [a for a, b in itertools.pairwise(track) if a.t == b.t]
    assert len(cuts) == 1 and 4.0 <= cuts[0].t <= 4.5
    assert FocusPath(track).at(7.9)[0] == track[-1].x > 0.7


def test_a_subject_faster_than_the_camera_is_caught_by_cuts() -> None:
    dash = samples(8, lambda t: [face(min(0.1 + 0.15 * t, 0.9))])
    track = follow(dash, 0, 8, CROP_W, 1.0)
    path = FocusPath(track)
    assert any(a.t == b.t for a, b in itertools.pairwise(track))
    assert all(abs(path.at(s.t)[0] - s.faces[0].cx) < CROP_W / 2 for s in dash)


def test_the_subject_is_the_larger_face_present_longest() -> None:
    two = samples(6, lambda t: [face(0.2, width=0.05), face(0.75, width=0.1)])
    assert FocusPath(follow(two, 0, 6, CROP_W, 1.0)).at(3)[0] > 0.6


def test_the_subject_is_kept_while_in_view_even_if_a_bigger_face_passes() -> None:
    def faces(t: float) -> list[Face]:
        visitor = [face(0.8, width=0.12)] if 2 <= t < 3 else []
        return [face(0.25), *visitor]

    track = follow(samples(6, faces), 0, 6, CROP_W, 1.0)
    assert len({p.x for p in track}) == 1 and track[0].x < 0.3


def test_the_subject_leaving_hands_over_to_who_remains() -> None:
    def faces(t: float) -> list[Face]:
        return ([face(0.2, width=0.1)] if t < 5 else []) + [face(0.8, width=0.05)]

    path = FocusPath(follow(samples(8, faces), 0, 8, CROP_W, 1.0))
    assert path.at(1)[0] < 0.3 and path.at(7.5)[0] > 0.7


def test_a_crop_shorter_than_the_frame_follows_y_too() -> None:
    low = samples(6, lambda t: [face(0.5, cy=0.2 if t < 3 else 0.8)])
    track = follow(low, 0, 6, 1.0, 0.5)
    assert track[0].y is not None and FocusPath(track).at(5.9)[1] == track[-1].y
    assert track[-1].y is not None and track[-1].y > 0.6
