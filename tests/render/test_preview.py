"""Live-preview media: every chunk becomes a standalone, continuous HLS segment (real audio or
stand-in silence of the same layout, or none), and a poster that is never a blank frame.

Plans are shrunk to 320×180 (the planner's smallest output is 720p) to keep renders tiny;
the preview code only reads the plan's size, so nothing it does is bypassed.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from av.video.frame import PictureType
from PIL import Image

from tests.media import make_garbage, make_video
from workers.render import (
    PREVIEW_OFFSET_S,
    ChunkPlan,
    NotAVideo,
    RenderError,
    RenderPlan,
    RenderSpec,
    make_poster,
    make_segment,
    plan_render,
    probe,
    render_audio,
    render_chunk,
    segment_duration_s,
)

WIDTH, HEIGHT = 320, 180
TICKS = 90_000  # MPEG-TS timestamps
FRAME_TICKS = TICKS // 30
AAC_TICKS = 1024 * TICKS // 48_000


@dataclass(frozen=True)
class Rendered:
    """A moment rendered the way workers do it: chunk files plus the moment's audio."""

    plan: RenderPlan
    chunks: list[str]
    audio: str | None


def _render(src: Path, spec: RenderSpec, work: Path) -> Rendered:
    plan = replace(plan_render(probe(str(src)), spec), width=WIDTH, height=HEIGHT)
    chunks = [str(work / f"chunk-{c.index}.mp4") for c in plan.chunks]
    for chunk, path in zip(plan.chunks, chunks, strict=True):
        render_chunk(str(src), spec, plan, chunk, path)
    return Rendered(plan, chunks, render_audio(str(src), spec, plan, str(work / "audio.m4a")))


@pytest.fixture(scope="module")
def stereo(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """2.4 s of a 3 s stereo source in 1 s chunks (24, 30, 18 frames); x264 "veryfast" has
    B-frames, so chunks start with negative dts like real ones."""
    work = tmp_path_factory.mktemp("preview-stereo")
    src = make_video(work / "src.mp4", duration_s=3.0, width=WIDTH, height=HEIGHT)
    spec = RenderSpec(start_s=0.3, end_s=2.7, aspect_ratio="16:9", chunk_s=1.0)
    rendered = _render(src, spec, work)
    assert len(rendered.plan.chunks) >= 3 and rendered.audio is not None
    return rendered


@pytest.fixture(scope="module")
def mono(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    work = tmp_path_factory.mktemp("preview-mono")
    src = make_video(work / "src.mp4", duration_s=1.2, width=WIDTH, height=HEIGHT, audio_channels=1)
    return _render(src, RenderSpec(start_s=0.0, end_s=1.0, aspect_ratio="16:9", chunk_s=0.5), work)


@pytest.fixture(scope="module")
def video_only(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    work = tmp_path_factory.mktemp("preview-video-only")
    src = make_video(work / "src.mp4", duration_s=1.2, width=WIDTH, height=HEIGHT, audio_channels=0)
    return _render(src, RenderSpec(start_s=0.0, end_s=1.0, aspect_ratio="16:9", chunk_s=0.5), work)


@pytest.fixture(scope="module")
def uneven(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Hand-cut chunks: one-frame ones (no B-frame delay) beside long ones (two frames of
    delay), and an edge at frame 32 = sample 51200, exactly where AAC packet 50 starts."""
    work = tmp_path_factory.mktemp("preview-uneven")
    src = make_video(work / "src.mp4", duration_s=2.2, width=WIDTH, height=HEIGHT)
    spec = RenderSpec(start_s=0.0, end_s=2.0, aspect_ratio="16:9")
    planned = plan_render(probe(str(src)), spec)
    edges = [(0, 1), (1, 2), (2, 32), (32, 60)]
    chunks = tuple(ChunkPlan(i, a, b, a / 30, b / 30) for i, (a, b) in enumerate(edges))
    plan = replace(planned, width=WIDTH, height=HEIGHT, chunks=chunks)
    paths = [str(work / f"chunk-{c.index}.mp4") for c in chunks]
    for chunk, path in zip(chunks, paths, strict=True):
        render_chunk(str(src), spec, plan, chunk, path)
    return Rendered(plan, paths, render_audio(str(src), spec, plan, str(work / "audio.m4a")))


def _segments(rendered: Rendered, work: Path, *, audio: bool = True) -> list[Path]:
    paths = []
    for chunk, chunk_path in zip(rendered.plan.chunks, rendered.chunks, strict=True):
        out = work / f"segment-{chunk.index}.ts"
        audio_path = rendered.audio if audio else None
        assert make_segment(chunk_path, rendered.plan, chunk, audio_path, str(out)) == str(out)
        paths.append(out)
    return paths


@dataclass
class Segment:
    """A TS file read back: video pts (display order) and dts (decode order) in 90 kHz ticks,
    audio packets, decoded media."""

    width: int
    height: int
    video_pts: list[int]
    video_dts: list[int]
    first_is_keyframe: bool
    audio_pts: list[int]
    audio_payloads: list[bytes]
    audio_channels: int
    audio_rate: int
    audio: np.ndarray | None


def _read(path: Path) -> Segment:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert video.time_base == Fraction(1, TICKS)
        frames = list(container.decode(video))
        assert frames, f"{path} decodes to no frames"
    with av.open(str(path)) as container:
        streams = [container.streams.video[0], *container.streams.audio]
        pts: list[int] = []
        dts: list[int] = []
        audio_pts: list[int] = []
        payloads: list[bytes] = []
        for packet in container.demux(*streams):
            if packet.size == 0 or packet.pts is None or packet.dts is None:
                continue
            if packet.stream.type == "video":
                assert packet.dts <= packet.pts, "a frame decoded after it is shown"
                pts.append(packet.pts)
                dts.append(packet.dts)
            else:
                audio_pts.append(packet.pts)
                payloads.append(bytes(packet))
        audio = container.streams.audio[0] if container.streams.audio else None
        channels = audio.codec_context.channels if audio else 0
        rate = audio.codec_context.sample_rate if audio else 0
    decoded = None
    if audio is not None:
        with av.open(str(path)) as container:
            decoded = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    return Segment(
        width=frames[0].width,
        height=frames[0].height,
        video_pts=sorted(pts),
        video_dts=dts,
        first_is_keyframe=frames[0].key_frame and frames[0].pict_type == PictureType.I,
        audio_pts=audio_pts,
        audio_payloads=payloads,
        audio_channels=channels,
        audio_rate=rate,
        audio=decoded,
    )


def _ffprobe(path: Path, *args: str) -> Any:
    """ffprobe's JSON for ``path``; fails the test on anything it prints to stderr."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *args, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stderr == "", result.stderr
    return json.loads(result.stdout)


def test_each_segment_decodes_alone_at_the_plan_size_with_all_its_frames(
    stereo: Rendered, tmp_path: Path
) -> None:
    for chunk, path in zip(stereo.plan.chunks, _segments(stereo, tmp_path), strict=True):
        probed = _ffprobe(path, "-count_frames", "-show_streams")
        video = next(s for s in probed["streams"] if s["codec_type"] == "video")
        assert (video["width"], video["height"], video["codec_name"]) == (WIDTH, HEIGHT, "h264")
        assert int(video["nb_read_frames"]) == chunk.frame_count
        segment = _read(path)
        assert (segment.width, segment.height) == (WIDTH, HEIGHT)
        assert len(segment.video_pts) == chunk.frame_count
        assert segment.first_is_keyframe
        data = path.read_bytes()
        assert data[0] == 0x47  # a TS sync byte: an MPEG-TS file, not a renamed MP4
        assert b"\x00\x00\x01\x67" in data and b"\x00\x00\x01\x65" in data  # Annex B SPS, IDR


def test_segments_are_continuous_on_the_offset_global_timeline(
    stereo: Rendered, tmp_path: Path
) -> None:
    segments = [_read(p) for p in _segments(stereo, tmp_path)]
    assert segments[0].video_pts[0] == PREVIEW_OFFSET_S * TICKS
    assert min(segments[0].video_dts) >= 0
    for previous, segment in itertools.pairwise(segments):
        assert abs(segment.video_pts[0] - (previous.video_pts[-1] + FRAME_TICKS)) <= 1
        assert np.all(np.abs(np.diff(segment.video_pts) - FRAME_TICKS) <= 1)
        assert min(segment.video_dts) > max(previous.video_dts), "dts went back between segments"


def test_dts_keeps_increasing_across_chunks_with_different_encoder_delays(
    uneven: Rendered, tmp_path: Path
) -> None:
    segments = [_read(p) for p in _segments(uneven, tmp_path)]
    dts = [d for s in segments for d in s.video_dts]
    assert len(dts) == uneven.plan.total_frames
    assert all(b > a for a, b in itertools.pairwise(dts))
    pts = [p for s in segments for p in s.video_pts]
    assert np.all(np.abs(np.diff(pts) - FRAME_TICKS) <= 1)


def test_an_audio_packet_starting_on_a_chunk_edge_goes_to_the_later_segment(
    uneven: Rendered, tmp_path: Path
) -> None:
    edge = PREVIEW_OFFSET_S * TICKS + 50 * AAC_TICKS  # frame 32 = AAC packet 50
    segments = [_read(p) for p in _segments(uneven, tmp_path)]
    assert segments[2].audio_pts[-1] == edge - AAC_TICKS
    assert segments[3].audio_pts[0] == edge
    silent = [_read(p) for p in _segments(uneven, tmp_path / "silent", audio=False)]
    assert [s.audio_pts for s in silent] == [s.audio_pts for s in segments]


def test_segment_durations_add_up_to_the_moment(stereo: Rendered, tmp_path: Path) -> None:
    plan = stereo.plan
    rate = plan.fps_num / plan.fps_den
    durations = [segment_duration_s(plan, chunk) for chunk in plan.chunks]
    assert sum(durations) == pytest.approx(plan.total_frames / rate, abs=1 / rate)
    measured = []
    for path in _segments(stereo, tmp_path):
        pts = _read(path).video_pts
        measured.append((pts[-1] - pts[0] + FRAME_TICKS) / TICKS)
    assert measured == pytest.approx(durations, abs=1e-4)


def test_real_audio_packets_are_copied_into_exactly_one_segment_each(
    stereo: Rendered, tmp_path: Path
) -> None:
    assert stereo.audio is not None
    with av.open(stereo.audio) as m4a:
        source = [bytes(p) for p in m4a.demux(m4a.streams.audio[0]) if p.size > 0]
    segments = [_read(p) for p in _segments(stereo, tmp_path)]
    assert all(s.audio_pts for s in segments)
    copied = [payload[7:] for s in segments for payload in s.audio_payloads]  # minus ADTS header
    assert copied == source, "every m4a packet once, in order, bytes unchanged (no re-encode)"
    pts = [p for s in segments for p in s.audio_pts]
    assert pts[0] == PREVIEW_OFFSET_S * TICKS - AAC_TICKS  # the encoder's priming packet
    assert np.all(np.diff(pts) == AAC_TICKS)


def test_real_audio_is_audible_and_continuous_across_segments(
    stereo: Rendered, tmp_path: Path
) -> None:
    whole = tmp_path / "all.ts"
    whole.write_bytes(b"".join(p.read_bytes() for p in _segments(stereo, tmp_path)))
    audio = _read(whole).audio
    assert audio is not None and audio.shape[0] == 2
    window = 240  # 5 ms: a tone never drops to silence, not even at segment joins
    usable = audio[0, 2400 : (audio.shape[1] - 2400) // window * window]
    assert np.sqrt((usable.reshape(-1, window) ** 2).mean(axis=1)).min() > 0.1


@pytest.mark.parametrize("rendered_name", ["stereo", "mono"])
def test_silence_stands_in_with_the_real_tracks_layout_and_packet_grid(
    rendered_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    rendered: Rendered = request.getfixturevalue(rendered_name)
    channels = 2 if rendered_name == "stereo" else 1
    real = [_read(p) for p in _segments(rendered, tmp_path / "real")]
    silent = [_read(p) for p in _segments(rendered, tmp_path / "silent", audio=False)]
    for chunk, with_audio, segment in zip(rendered.plan.chunks, real, silent, strict=True):
        assert (segment.audio_channels, segment.audio_rate) == (channels, 48_000)
        assert (with_audio.audio_channels, with_audio.audio_rate) == (channels, 48_000)
        assert segment.audio_pts == with_audio.audio_pts, "the same 1024-sample packet grid"
        assert segment.audio is not None and segment.audio.shape[0] == channels
        assert np.abs(segment.audio).max() < 1e-4
        video_start = segment.video_pts[0]
        video_end = segment.video_pts[-1] + FRAME_TICKS
        audio_end = segment.audio_pts[-1] + AAC_TICKS
        assert abs(segment.audio_pts[0] - video_start) <= AAC_TICKS, chunk
        assert abs(audio_end - video_end) <= AAC_TICKS, chunk
        assert segment.audio.shape[1] == 1024 * len(segment.audio_pts), "every packet decodes"


def test_a_source_without_audio_gives_video_only_segments(
    video_only: Rendered, tmp_path: Path
) -> None:
    assert video_only.audio is None and not video_only.plan.has_audio
    for chunk, path in zip(video_only.plan.chunks, _segments(video_only, tmp_path), strict=True):
        probed = _ffprobe(path, "-show_streams")
        assert [s["codec_type"] for s in probed["streams"]] == ["video"]
        assert len(_read(path).video_pts) == chunk.frame_count


@pytest.mark.parametrize("audio", [True, False])
def test_concatenated_segments_play_end_to_end_without_errors(
    audio: bool, stereo: Rendered, tmp_path: Path
) -> None:
    whole = tmp_path / "all.ts"
    whole.write_bytes(b"".join(p.read_bytes() for p in _segments(stereo, tmp_path, audio=audio)))
    decoded = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "warning", "-i", str(whole), "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert decoded.stderr == "", decoded.stderr  # no "corrupt packet", no timestamp warnings
    probed = _ffprobe(whole, "-show_format")
    plan = stereo.plan
    moment = plan.total_frames * plan.fps_den / plan.fps_num
    assert float(probed["format"]["duration"]) == pytest.approx(moment, abs=0.05)
    assert len(_read(whole).video_pts) == plan.total_frames


def test_a_failed_segment_leaves_no_file(stereo: Rendered, tmp_path: Path) -> None:
    chunk = stereo.plan.chunks[0]
    out = tmp_path / "segment.ts"
    with pytest.raises(NotAVideo):
        make_segment(str(tmp_path / "missing.mp4"), stereo.plan, chunk, None, str(out))
    garbage = make_garbage(tmp_path / "audio.m4a")
    with pytest.raises(RenderError):  # fails after the segment file was started
        make_segment(stereo.chunks[0], stereo.plan, chunk, str(garbage), str(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audio.m4a"]
    make_segment(stereo.chunks[0], stereo.plan, chunk, None, str(out))
    good = out.read_bytes()
    with pytest.raises(RenderError):  # a failed remake keeps the segment players may be reading
        make_segment(stereo.chunks[0], stereo.plan, chunk, str(garbage), str(out))
    assert out.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audio.m4a", "segment.ts"]


def test_poster_is_a_jpeg_of_the_chunk_size_with_content(stereo: Rendered, tmp_path: Path) -> None:
    out = tmp_path / "poster.jpg"
    assert make_poster(stereo.chunks[0], str(out)) == str(out)
    assert out.read_bytes()[:3] == b"\xff\xd8\xff"
    with Image.open(out) as image:
        assert image.format == "JPEG" and image.size == (WIDTH, HEIGHT)
        assert np.asarray(image.convert("L"), dtype=np.float64).std() > 20
    assert [p.name for p in tmp_path.iterdir()] == ["poster.jpg"]
    segment = _segments(stereo, tmp_path / "segments")[1]  # TS: no frame count up front
    make_poster(str(segment), str(tmp_path / "from-segment.jpg"))
    with Image.open(tmp_path / "from-segment.jpg") as image:
        assert image.size == (WIDTH, HEIGHT)


def _chunk_with_grainy_black_start(path: Path) -> Path:
    """1 s at 30 fps: half a second of near-black with fine grain, then a soft bright blob.

    The grain's Laplacian is far busier than the blob's, so only the blank-frame rule keeps
    the black opening from winning on sharpness.
    """
    rng = np.random.default_rng(3)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    blob = 30 + 200 * np.exp(-((xs - 160) ** 2 + (ys - 90) ** 2) / (2 * 60.0**2))
    picture = np.repeat(blob[:, :, np.newaxis], 3, axis=2)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30, options={"crf": "12"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for index in range(30):
            pixels = 12 + rng.normal(0, 3, (HEIGHT, WIDTH, 3)) if index < 15 else picture
            image = np.clip(pixels, 0, 255).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def test_poster_never_picks_a_blank_frame_when_one_has_content(tmp_path: Path) -> None:
    chunk = _chunk_with_grainy_black_start(tmp_path / "chunk.mp4")
    out = tmp_path / "poster.jpg"
    make_poster(str(chunk), str(out))
    with Image.open(out) as image:
        luma = np.asarray(image.convert("L"), dtype=np.float64)
    assert luma.shape == (HEIGHT, WIDTH)
    assert luma.mean() > 50 and luma.std() > 20, "the poster is the black opening"


def test_poster_of_a_missing_chunk_raises_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(NotAVideo):
        make_poster(str(tmp_path / "missing.mp4"), str(tmp_path / "poster.jpg"))
    assert list(tmp_path.iterdir()) == []
