"""What a rendered file is: exact size, H.264/AAC, duration, frame-accurate cut, faststart,
and the odd sources (rotation, SAR, odd size, VFR, 5.1, mono, 44.1 kHz)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from tests.media import counter_level, make_video
from tests.render.conftest import all_luma_means, frame_luma, read_media
from workers.render import OUTPUT_SIZES, RenderSpec, render


def _spec(start: float = 0.5, end: float = 1.5, **kw: object) -> RenderSpec:
    return RenderSpec(start_s=start, end_s=end, chunk_s=kw.pop("chunk_s", 0.5), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("aspect", "resolution"), sorted(OUTPUT_SIZES))
def test_every_aspect_and_resolution_has_the_exact_size(
    source: Path, tmp_path: Path, aspect: str, resolution: str
) -> None:
    out = tmp_path / "out.mp4"
    spec = _spec(1.0, 1.2, aspect_ratio=aspect, resolution=resolution, preset="ultrafast")
    info = render(str(source), spec, str(out))
    media = read_media(out, decode_audio=False)
    assert (media.width, media.height) == OUTPUT_SIZES[(aspect, resolution)]
    assert (info.width, info.height) == OUTPUT_SIZES[(aspect, resolution)]
    assert media.pix_fmt == "yuv420p" and media.video_codec == "h264"
    assert media.frames == 6


@pytest.mark.parametrize(("resolution", "size"), [("720p", (960, 720)), ("1080p", (1440, 1080))])
def test_original_aspect_follows_the_source(
    source: Path, tmp_path: Path, resolution: str, size: tuple[int, int]
) -> None:
    out = tmp_path / "out.mp4"
    render(str(source), _spec(1.0, 1.2, aspect_ratio="original", resolution=resolution), str(out))
    assert (read_media(out, decode_audio=False).width, read_media(out).height) == size


def test_duration_and_frames_match_the_moment_with_audio(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    info = render(str(source), _spec(0.4, 2.3), str(out))
    media = read_media(out)
    assert media.frames == 57
    assert abs(media.duration_s - 1.9) <= 1 / 30
    assert abs(info.duration_s - 1.9) <= 1 / 30
    steps = np.diff(media.video_pts_s)
    assert np.allclose(steps, 1 / 30, atol=1e-3)
    assert media.audio_codec == "aac" and media.audio_rate == 48000 and media.audio_channels == 2
    assert media.audio is not None
    assert abs(media.audio.shape[1] - 1.9 * 48000) <= 1024


def test_a_source_without_audio_gives_a_file_without_audio(
    silent_source: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.mp4"
    info = render(str(silent_source), _spec(0.2, 1.2), str(out))
    assert not info.has_audio
    assert read_media(out).audio_codec is None


@pytest.mark.parametrize("start", [1.2, 0.0, 0.5])
def test_the_cut_is_frame_accurate(counter_source: Path, tmp_path: Path, start: float) -> None:
    """Output frame n must show source frame round(start*30)+n, even starting mid-GOP."""
    out = tmp_path / "out.mp4"
    render(str(counter_source), _spec(start, start + 0.6, chunk_s=0.3), str(out))
    means = all_luma_means(out)
    assert len(means) == 18
    first = round(start * 30)
    expected = [counter_level(first + n) for n in range(18)]
    assert np.allclose(means, expected, atol=3.0), (means, expected)


def _top_level_boxes(path: Path) -> list[bytes]:
    boxes = []
    data = path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        boxes.append(kind)
        if size < 8:
            break
        offset += size
    return boxes


def test_output_is_faststart(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    render(str(source), _spec(), str(out))
    boxes = _top_level_boxes(out)
    assert b"moov" in boxes and b"mdat" in boxes
    assert boxes.index(b"moov") < boxes.index(b"mdat")


def test_rotated_source_is_shown_upright(tmp_path: Path) -> None:
    """The marker block is top-left in stored pixels; a 90° CCW display matrix puts it
    bottom-left, which is what ffmpeg shows."""
    src = make_video(tmp_path / "rot.mp4", duration_s=1.0, rotation=90, audio_channels=0)
    out = tmp_path / "out.mp4"
    info = render(str(src), _spec(0.0, 0.5, aspect_ratio="original"), str(out))
    assert (info.width, info.height) == (720, 960)
    luma = frame_luma(out, 0)
    corner = 80
    assert luma[-corner:, :corner].mean() > 200  # bottom-left: the white marker
    assert luma[:corner, :corner].mean() < 200


def test_non_square_pixels_are_not_distorted(tmp_path: Path) -> None:
    """240×240 stored at SAR 4:3 displays as 320×240, so "original" is 4:3, not square."""
    src = make_video(tmp_path / "sar.mp4", duration_s=1.0, width=240, sar=(4, 3), audio_channels=0)
    out = tmp_path / "out.mp4"
    info = render(str(src), _spec(0.0, 0.5, aspect_ratio="original"), str(out))
    assert (info.width, info.height) == (960, 720)
    luma = frame_luma(out, 0)
    marker_w = int((luma[:60] > 200).sum(axis=1).max())
    marker_h = int((luma[:, :60] > 200).sum(axis=0).max())
    assert marker_w / marker_h == pytest.approx(960 / 720, rel=0.1)


def test_odd_sized_source_renders_to_even_sizes(tmp_path: Path) -> None:
    src = make_video(tmp_path / "odd.mp4", duration_s=1.0, width=317, height=239)
    for aspect, size in (("original", (954, 720)), ("9:16", (720, 1280))):
        out = tmp_path / f"{aspect.replace(':', '-')}.mp4"
        info = render(str(src), _spec(0.0, 0.5, aspect_ratio=aspect), str(out))
        assert (info.width, info.height) == size


def test_variable_frame_rate_becomes_constant(tmp_path: Path) -> None:
    src = make_video(tmp_path / "vfr.mp4", duration_s=2.0, vfr=True)
    out = tmp_path / "out.mp4"
    render(str(src), _spec(0.3, 1.6), str(out))
    media = read_media(out, decode_audio=False)
    assert media.frames == 39
    assert np.allclose(np.diff(media.video_pts_s), 1 / 30, atol=1e-3)


@pytest.mark.parametrize(
    ("channels", "rate", "expected_channels"), [(6, 44100, 2), (1, 48000, 1), (2, 44100, 2)]
)
def test_audio_layouts_and_rates_become_48k_aac(
    tmp_path: Path, channels: int, rate: int, expected_channels: int
) -> None:
    src = make_video(tmp_path / "a.mp4", duration_s=1.5, audio_channels=channels, sample_rate=rate)
    out = tmp_path / "out.mp4"
    render(str(src), _spec(0.25, 1.25), str(out))
    media = read_media(out)
    assert media.audio_codec == "aac" and media.audio_rate == 48000
    assert media.audio_channels == expected_channels
    assert media.audio is not None
    assert abs(media.audio.shape[1] - 48000) <= 1024
    assert float(np.sqrt(np.mean(media.audio[:, 4800:-4800] ** 2))) > 0.05


def test_every_frame_is_right_across_keyframe_aligned_chunks(
    counter_source: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.mp4"
    render(str(counter_source), _spec(0.2, 2.8, chunk_s=0.5), str(out))
    means = all_luma_means(out)
    expected = [counter_level(6 + n) for n in range(78)]
    assert np.allclose(means, expected, atol=3.0), (means, expected)
