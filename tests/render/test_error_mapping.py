"""Every libav failure the engine meets surfaces as one of our codes with a sentence of ours;
the raw libav text stays on ``__cause__`` (for the log), never in the message."""

from __future__ import annotations

import errno
from dataclasses import replace
from pathlib import Path

import av
import pytest

from tests.media import make_garbage, make_video
from workers.render import (
    MomentTooShort,
    OutputBounds,
    OutputTooLarge,
    RenderError,
    RenderSpec,
    SourceInfo,
    UnsupportedCodec,
    check_output_size,
    join_chunks,
    media_error,
    moment_frames,
    output_size,
    plan_render,
    probe,
    render_audio,
    render_chunk,
)
from workers.render.spec import ENCODER_MAX_SIDE

#: Pieces of libav's own error text that must never reach a user.
LIBAV_WORDS = (
    "Error number",
    "Invalid argument",
    "avcodec",
    "avformat",
    "[libx264",
    "Errno",
    "Generic error",
    "external library",
    "returned",
)


def assert_plain(error: RenderError) -> None:
    for word in LIBAV_WORDS:
        assert word not in error.message, error.message


def _source(width: int, height: int, fps: float = 30.0) -> SourceInfo:
    return SourceInfo(duration_s=10.0, width=width, height=height, fps=fps, has_audio=False,
                      video_codec="h264", coded_width=width, coded_height=height)  # fmt: skip


def test_a_moment_under_one_frame_is_refused_and_one_frame_is_planned() -> None:
    frame = 1 / 30
    with pytest.raises(MomentTooShort) as caught:
        plan_render(_source(320, 240), RenderSpec(start_s=1.0, end_s=1.0 + frame * 0.4))
    assert caught.value.code == "moment_too_short"
    assert "0.0333 s" in caught.value.message  # names the frame duration
    plan = plan_render(_source(320, 240), RenderSpec(start_s=1.0, end_s=1.0 + frame))
    assert plan.total_frames == 1 == moment_frames(1.0, 1.0 + frame, 30.0)


def test_an_original_output_past_the_encoder_is_refused_with_size_and_limit() -> None:
    tall = _source(16, 2000)  # 1080p original → 1080×135000
    with pytest.raises(OutputTooLarge) as caught:
        plan_render(tall, RenderSpec(start_s=0.0, end_s=1.0, aspect_ratio="original",
                                     resolution="1080p"))  # fmt: skip
    assert caught.value.code == "output_too_large"
    assert "1080×135000" in caught.value.message and str(ENCODER_MAX_SIDE) in caught.value.message
    widest = _source(ENCODER_MAX_SIDE * 720 // 1080 * 3 // 2, 720 * 3 // 2)
    width, height = output_size(widest, "original", "1080p")
    assert width <= ENCODER_MAX_SIDE
    check_output_size(width, height)  # at the limit: accepted


def test_service_bounds_are_checked_by_pixels_too() -> None:
    bounds = OutputBounds(max_width=4000, max_height=4000, max_pixels=1_000_000)
    with pytest.raises(OutputTooLarge) as caught:
        check_output_size(1920, 1080, bounds)
    assert "1000000 pixels" in caught.value.message
    check_output_size(1080, 920, bounds)


def test_an_encoder_refusal_becomes_render_failed_in_plain_words(
    tmp_path: Path, source: Path
) -> None:
    spec = RenderSpec(start_s=0.0, end_s=0.5, aspect_ratio="16:9")
    plan = plan_render(probe(str(source)), spec)
    too_tall = replace(plan, width=1080, height=ENCODER_MAX_SIDE + 16)  # past the planner
    out = tmp_path / "chunk.mp4"
    with pytest.raises(RenderError) as caught:
        render_chunk(str(source), spec, too_tall, too_tall.chunks[0], str(out))
    assert caught.value.code == "render_failed" and not caught.value.transient
    assert_plain(caught.value)
    assert isinstance(caught.value.__cause__, av.FFmpegError)  # the detail, for the log
    assert list(tmp_path.iterdir()) == []  # no partial file


def test_a_damaged_audio_piece_fails_the_join_in_plain_words(tmp_path: Path, source: Path) -> None:
    spec = RenderSpec(start_s=0.0, end_s=0.5)
    plan = plan_render(probe(str(source)), spec)
    chunk = str(render_chunk(str(source), spec, plan, plan.chunks[0], str(tmp_path / "c0.mp4")))
    garbage = make_garbage(tmp_path / "audio.m4a")
    with pytest.raises(RenderError) as caught:
        join_chunks(plan, [chunk], str(garbage), str(tmp_path / "out.mp4"))
    assert caught.value.code == "render_failed"
    assert_plain(caught.value)
    assert not (tmp_path / "out.mp4").exists()


def test_audio_into_an_unwritable_place_fails_in_plain_words(tmp_path: Path, source: Path) -> None:
    spec = RenderSpec(start_s=0.0, end_s=0.5)
    plan = plan_render(probe(str(source)), spec)
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(RenderError) as caught:
        render_audio(str(source), spec, plan, str(blocker / "audio.m4a"))
    assert caught.value.code == "render_failed"
    assert_plain(caught.value)


def test_an_unknown_audio_codec_is_unsupported_not_a_crash(tmp_path: Path) -> None:
    real = make_video(tmp_path / "real.mkv", duration_s=0.5)
    bad = tmp_path / "bad-audio.mkv"
    bad.write_bytes(real.read_bytes().replace(b"A_AAC", b"A_ZZZ"))
    with pytest.raises(UnsupportedCodec) as caught:
        probe(str(bad))
    assert "audio codec" in caught.value.message


def test_a_full_disk_is_transient_and_libav_refusals_are_not() -> None:
    full = media_error(OSError(errno.ENOSPC, "No space left on device"), "encoding video")
    assert full.transient and "No space" not in full.message
    refused = media_error(av.error.InvalidDataError(1094995529, "Invalid data"), "joining")
    assert not refused.transient and refused.code == "render_failed"
    assert_plain(refused)
