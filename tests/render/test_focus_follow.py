"""Reframing that follows the subject: auto reframe on a known face, a still face, no face,
and a keyframed track rendered in chunks by separate processes.

Where the crop sits in an output frame is found back by matching it against the source
picture the test built (``find_crop_x``), so these check pixels, not our own arithmetic.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from tests.subject_media import (
    HEIGHT,
    WIDTH,
    SubjectVideo,
    face_box,
    find_crop_x,
    make_subject_video,
    piecewise,
)
from workers.render import RenderSpec, join_chunks, plan_render, probe, render, render_chunk
from workers.render.analysis import FocusAnalysis
from workers.render.focus import FocusPath, FocusPoint
from workers.render.reframe import crop_rect
from workers.render.spec import RenderPlan

pytestmark = pytest.mark.timeout(600)

#: The crop of a 9:16 output from a 1920×1080 source is 607.5 source pixels wide.
CROP_W = HEIGHT * 9 / 16
MAX_PAN_PX_S = 0.25 * CROP_W
#: Slow pans (110 and 90 px/s, under the 152 px/s limit), a pause, and a jump at 7 s.
JOURNEY = piecewise(
    [(0, 100), (1, 100), (5, 540), (7, 540), (7, 1300), (8, 1300), (11, 1030), (12, 1030)]
)
JUMP_AT_S = 7.0


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> SubjectVideo:
    path = tmp_path_factory.mktemp("focus") / "journey.mp4"
    return make_subject_video(path, JOURNEY, duration_s=12.0)


def crop_positions(out: Path, video: SubjectVideo, every: int = 1) -> Iterator[tuple[float, float]]:
    """(time, crop left edge in source pixels) of every ``every``-th output frame."""
    with av.open(str(out)) as container:
        rate = container.streams.video[0].average_rate
        assert rate is not None
        for index, frame in enumerate(container.decode(video=0)):
            if index % every == 0:
                t = index / float(rate)
                yield t, find_crop_x(frame.to_ndarray(format="rgb24"), video, t)


def test_auto_reframe_keeps_the_moving_face_in_frame_pans_slowly_and_cuts_at_the_jump(
    journey: SubjectVideo, tmp_path: Path
) -> None:
    found: list[FocusAnalysis] = []
    out = tmp_path / "auto.mp4"
    spec = RenderSpec(0.0, 12.0, focus_mode="auto", chunk_s=3.0)
    render(str(journey.path), spec, str(out), on_analysis=found.append)
    (analysis,) = found
    assert not analysis.fallback and analysis.samples >= 12 * 5  # sampled at ≥ 5 fps
    positions = list(crop_positions(out, journey))
    inside = 0
    for t, left in positions:
        x0, _, x1, _ = face_box(JOURNEY, t)
        inside += left - 4 <= x0 and x1 <= left + CROP_W + 4
    assert inside / len(positions) >= 0.95, f"face inside the crop in {inside}/{len(positions)}"
    half_s = round(0.5 * journey.fps)
    for (t0, a), (t1, b) in zip(positions, positions[half_s:], strict=False):
        if t1 >= JUMP_AT_S and t0 <= JUMP_AT_S + 0.5:
            continue
        assert abs(b - a) <= MAX_PAN_PX_S * (t1 - t0) + 8, f"{t0:.2f}–{t1:.2f} s: {a} → {b}"
    cut = [t1 for (t0, a), (t1, b) in itertools.pairwise(positions) if abs(b - a) > CROP_W / 2]
    assert len(cut) == 1 and JUMP_AT_S <= cut[0] <= JUMP_AT_S + 0.5, cut


def test_a_still_face_gets_a_still_crop(tmp_path: Path) -> None:
    video = make_subject_video(tmp_path / "still.mp4", lambda t: 900.0, duration_s=5.0)
    found: list[FocusAnalysis] = []
    out = tmp_path / "still-out.mp4"
    render(
        str(video.path), RenderSpec(0.0, 5.0, focus_mode="auto"), str(out), on_analysis=found.append
    )
    assert len({p.x for p in found[0].track}) == 1, found[0].track
    lefts = {left for _, left in crop_positions(out, video)}
    assert len(lefts) == 1, lefts  # zero jitter
    x0, _, x1, _ = face_box(lambda t: 900.0, 0.0)
    (left,) = lefts
    assert abs(left + CROP_W / 2 - (x0 + x1) / 2) <= 16  # and centred on the face


def test_no_face_falls_back_to_focus_x(tmp_path: Path) -> None:
    video = make_subject_video(tmp_path / "empty.mp4", None, duration_s=3.0)
    found: list[FocusAnalysis] = []
    out = tmp_path / "empty-out.mp4"
    spec = RenderSpec(0.0, 3.0, focus_x=0.3, focus_mode="auto")
    render(str(video.path), spec, str(out), on_analysis=found.append)
    assert found[0].fallback and found[0].track == (FocusPoint(0.0, 0.3),)
    expected = crop_rect(probe(str(video.path)), 720, 1280, 0.3).x
    lefts = {left for _, left in crop_positions(out, video, every=10)}
    assert all(abs(left - expected) <= 4 for left in lefts), (lefts, expected)


KEYFRAMES = (
    FocusPoint(0.4, 0.2),
    FocusPoint(1.6, 0.75),
    FocusPoint(2.6, 0.75),
    FocusPoint(3.4, 0.35),
    FocusPoint(3.4, 0.8),  # a cut
    FocusPoint(4.6, 0.5),
)


def _render_chunk_in_own_process(args: tuple[str, str, str, int, str]) -> str:
    src, spec_json, plan_json, index, out = args
    spec = RenderSpec.from_json(json.loads(spec_json))
    plan = RenderPlan.from_json(json.loads(plan_json))
    return render_chunk(src, spec, plan, plan.chunks[index], out)


def test_manual_track_hits_its_keyframes_and_chunks_from_separate_processes_join(
    tmp_path: Path,
) -> None:
    still = make_subject_video(tmp_path / "backdrop.mp4", lambda t: 700.0, duration_s=5.0)
    source = probe(str(still.path))
    spec = RenderSpec(0.0, 5.0, focus_track=KEYFRAMES, chunk_s=0.8)
    plan = plan_render(source, spec)
    assert len(plan.chunks) >= 5
    jobs = [
        (
            str(still.path),
            json.dumps(spec.to_json()),
            json.dumps(plan.to_json()),
            chunk.index,
            str(tmp_path / f"chunk{chunk.index}.mp4"),
        )
        for chunk in plan.chunks
    ]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        paths = pool.map(_render_chunk_in_own_process, jobs)
    out = tmp_path / "joined.mp4"
    join_chunks(plan, paths, None, str(out))

    path = FocusPath(KEYFRAMES)
    for point in KEYFRAMES:
        rect = crop_rect(source, plan.width, plan.height, *path.at(point.t))
        assert abs(rect.x + rect.width / 2 - point.x * WIDTH) <= 2 or point.t == 3.4
    cut_after = crop_rect(source, plan.width, plan.height, 0.8)
    assert abs(cut_after.x + cut_after.width / 2 - 0.8 * WIDTH) <= 2

    positions = list(crop_positions(out, still))
    assert len(positions) == plan.total_frames
    for t, left in positions:
        assert abs(left - crop_rect(source, plan.width, plan.height, *path.at(t)).x) <= 4, t
    edges = {chunk.first_frame for chunk in plan.chunks[1:]}
    for frame in edges:
        (t0, a), (t1, b) = positions[frame - 1], positions[frame]
        expected = abs(path.at(t1)[0] - path.at(t0)[0]) * WIDTH
        assert abs(abs(b - a) - expected) <= 6, f"a jump at the chunk edge at {t1:.2f} s"


def test_focus_path_passes_through_keyframes_without_overshoot() -> None:
    path = FocusPath(KEYFRAMES)
    for point in KEYFRAMES[:4] + KEYFRAMES[5:]:
        if point.t != 3.4:
            assert path.at(point.t)[0] == pytest.approx(point.x)
    assert path.at(3.4)[0] == pytest.approx(0.8) and path.at(3.3999)[0] < 0.4
    assert path.at(0.0)[0] == 0.2 and path.at(9.0)[0] == 0.5
    xs = [path.at(0.4 + k * 0.01)[0] for k in range(121)]
    assert xs == sorted(xs) and max(xs) <= 0.75 + 1e-9  # monotone rise, no overshoot
    assert all(path.at(2.0 + k * 0.05)[0] == pytest.approx(0.75) for k in range(12))
