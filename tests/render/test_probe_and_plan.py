"""probe() and plan_render(): display sizes, error codes, exact sizes, frame-aligned chunks."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests.media import (
    make_audio_only,
    make_empty,
    make_garbage,
    make_truncated,
    make_unknown_codec,
    make_video,
)
from workers.render import (
    OUTPUT_SIZES,
    InvalidRenderSpec,
    MomentOutOfRange,
    NotAVideo,
    RenderSpec,
    SourceInfo,
    UnsupportedCodec,
    output_size,
    plan_render,
    probe,
)
from workers.render.plan import output_rate


def _source(width: int = 1920, height: int = 1080, fps: float = 30.0) -> SourceInfo:
    return SourceInfo(duration_s=10.0, width=width, height=height, fps=fps, has_audio=True,
                      video_codec="h264", coded_width=width, coded_height=height)  # fmt: skip


def test_probe_reports_size_rate_duration_and_audio(source: Path) -> None:
    info = probe(str(source))
    assert (info.width, info.height) == (320, 240)
    assert info.fps == pytest.approx(30.0)
    assert info.duration_s == pytest.approx(3.0, abs=0.05)
    assert info.has_audio and info.audio_channels == 2 and info.audio_sample_rate == 48000


def test_probe_applies_rotation_and_sample_aspect_ratio(tmp_path: Path) -> None:
    rotated = probe(str(make_video(tmp_path / "r.mp4", duration_s=0.5, rotation=90)))
    assert (rotated.width, rotated.height) == (240, 320)
    anamorphic = probe(str(make_video(tmp_path / "s.mp4", duration_s=0.5, width=240, sar=(4, 3))))
    assert (anamorphic.width, anamorphic.height) == (320, 240)


@pytest.mark.parametrize("maker", [make_garbage, make_empty, make_audio_only])
def test_probe_rejects_what_is_not_a_video(tmp_path: Path, maker: object) -> None:
    path = maker(tmp_path / "bad.mp4")  # type: ignore[operator]
    with pytest.raises(NotAVideo) as caught:
        probe(str(path))
    assert caught.value.code == "not_a_video"


def test_probe_rejects_a_truncated_file_and_a_missing_one(tmp_path: Path, source: Path) -> None:
    for path in (make_truncated(tmp_path / "cut.mp4", source, keep=0.05), tmp_path / "nope.mp4"):
        with pytest.raises(NotAVideo):
            probe(str(path))


def test_probe_rejects_an_unknown_video_codec(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedCodec) as caught:
        probe(str(make_unknown_codec(tmp_path / "odd.mkv")))
    assert caught.value.code == "unsupported_codec"


@pytest.mark.parametrize("key", sorted(OUTPUT_SIZES))
def test_output_size_is_the_api_table(key: tuple[str, str]) -> None:
    assert output_size(_source(), *key) == OUTPUT_SIZES[key]


@pytest.mark.parametrize(
    ("width", "height", "resolution", "expected"),
    [
        (1920, 1080, "720p", (1280, 720)),
        (1080, 1920, "1080p", (1080, 1920)),
        (317, 239, "720p", (954, 720)),
        (640, 480, "1080p", (1440, 1080)),
    ],
)
def test_original_keeps_aspect_with_even_short_side(
    width: int, height: int, resolution: str, expected: tuple[int, int]
) -> None:
    size = output_size(_source(width, height), "original", resolution)
    assert size == expected
    assert size[0] % 2 == 0 and size[1] % 2 == 0


def test_output_rate_snaps_to_standard_rates_and_caps_at_60() -> None:
    assert output_rate(30.0) == 30
    assert float(output_rate(29.97)) == pytest.approx(30000 / 1001)
    assert output_rate(30.17) == 30
    assert output_rate(120.0) == 60
    assert output_rate(0.0) == 30


def test_chunks_cover_every_frame_once_on_frame_edges() -> None:
    plan = plan_render(_source(), RenderSpec(start_s=1.0, end_s=8.5, chunk_s=2.0))
    assert plan.total_frames == 225
    assert [c.first_frame for c in plan.chunks] == [0, 60, 120, 180]
    assert plan.chunks[-1].end_frame == 225
    for before, after in zip(plan.chunks, plan.chunks[1:], strict=False):
        assert before.end_frame == after.first_frame
        assert before.end_s == pytest.approx(after.start_s)
    assert plan.chunks[0].start_s == pytest.approx(1.0)


@pytest.mark.parametrize(("start", "end"), [(-1.0, 2.0), (3.0, 3.0), (5.0, 4.0), (9.0, 12.0)])
def test_moments_outside_the_source_are_refused(start: float, end: float) -> None:
    with pytest.raises(MomentOutOfRange) as caught:
        plan_render(_source(), RenderSpec(start_s=start, end_s=end))
    assert caught.value.code == "moment_out_of_range"


@pytest.mark.parametrize(
    "changes",
    [{"focus_x": 1.5}, {"chunk_s": 0.0}, {"crf": 60}, {"preset": "warp"}, {"aspect_ratio": "3:2"}],
)
def test_invalid_specs_are_refused(changes: dict[str, object]) -> None:
    spec = RenderSpec(start_s=0.0, end_s=2.0, **changes)  # type: ignore[arg-type]
    with pytest.raises(InvalidRenderSpec) as caught:
        plan_render(_source(), spec)
    assert caught.value.code == "invalid_render_spec"


def test_chunk_edges_move_just_after_nearby_keyframes() -> None:
    keys = tuple(k * 2.0 - 1 / 15 for k in range(6))  # index (decode) times of a 2 s GOP
    source = SourceInfo(duration_s=10.0, width=1920, height=1080, fps=30.0, has_audio=False,
                        video_codec="h264", keyframes_s=keys)  # fmt: skip
    plan = plan_render(source, RenderSpec(start_s=1.0, end_s=9.5, chunk_s=2.0))
    assert plan.chunks[-1].end_frame == plan.total_frames == 255
    for chunk in plan.chunks[1:]:
        gaps = [chunk.start_s - k for k in keys]
        assert any(0.1 - 1e-6 <= gap <= 0.1 + 1 / 30 for gap in gaps), chunk
    for before, after in itertools.pairwise(plan.chunks):
        assert before.end_frame == after.first_frame
