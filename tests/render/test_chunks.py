"""Chunked rendering: chunks join into the same file as one pass, audio stays continuous,
finished chunks are reused, and cancelling stops fast and leaves no partial files."""

from __future__ import annotations

import itertools
import os
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from tests.render.conftest import read_media
from workers.render import (
    ChunkPlan,
    RenderCancelled,
    RenderError,
    RenderPlan,
    RenderSpec,
    is_chunk_complete,
    join_chunks,
    plan_render,
    probe,
    render,
    render_audio,
    render_chunk,
)

SPEC = RenderSpec(start_s=0.3, end_s=2.7, chunk_s=0.5, preset="ultrafast")


def test_chunked_output_matches_unchunked_frames_and_duration(source: Path, tmp_path: Path) -> None:
    render(str(source), SPEC, str(tmp_path / "one.mp4"), chunked=False)
    render(str(source), SPEC, str(tmp_path / "many.mp4"), chunked=True)
    one, many = read_media(tmp_path / "one.mp4"), read_media(tmp_path / "many.mp4")
    assert one.frames == many.frames == 72
    assert many.duration_s == pytest.approx(one.duration_s, abs=1 / 30)
    assert many.video_pts_s == pytest.approx(one.video_pts_s, abs=1e-3)
    assert np.allclose(np.diff(many.video_pts_s), 1 / 30, atol=1e-3)


def test_each_chunk_starts_with_a_keyframe(source: Path, tmp_path: Path) -> None:
    render(str(source), SPEC, str(tmp_path / "many.mp4"))
    plan = plan_render(probe(str(source)), SPEC)
    keys = read_media(tmp_path / "many.mp4", decode_audio=False).keyframes_s
    for chunk in plan.chunks:
        assert any(abs(k - chunk.first_frame / 30) < 1e-3 for k in keys), chunk


def test_audio_is_continuous_across_chunk_joins(source: Path, tmp_path: Path) -> None:
    render(str(source), SPEC, str(tmp_path / "many.mp4"))
    media = read_media(tmp_path / "many.mp4")
    assert media.audio is not None
    samples = media.audio[0]
    assert abs(len(samples) - 2.4 * 48000) <= 1024
    # 5 ms windows over the whole track (edges excepted): a tone never drops to silence
    window = 240
    usable = samples[2400 : (len(samples) - 2400) // window * window]
    rms = np.sqrt((usable.reshape(-1, window) ** 2).mean(axis=1))
    assert rms.min() > 0.1, f"silent window at {int(rms.argmin()) * window + 2400} samples"


def test_the_pieces_can_run_separately_and_join(source: Path, tmp_path: Path) -> None:
    info = probe(str(source))
    plan = plan_render(info, SPEC)
    paths = [str(tmp_path / f"c{c.index}.mp4") for c in reversed(plan.chunks)][::-1]
    for chunk in reversed(plan.chunks):  # any order, as separate workers would
        render_chunk(str(source), SPEC, plan, chunk, paths[chunk.index])
        assert is_chunk_complete(paths[chunk.index], chunk)
    audio = render_audio(str(source), SPEC, plan, str(tmp_path / "a.m4a"))
    out = join_chunks(plan, paths, audio, str(tmp_path / "out.mp4"))
    assert out.has_audio and out.width == 720 and out.height == 1280
    assert read_media(out.path, decode_audio=False).frames == plan.total_frames
    assert not is_chunk_complete(paths[0], plan.chunks[1])


def test_join_keeps_dts_increasing_when_chunks_have_different_encoder_delays(
    source: Path, tmp_path: Path
) -> None:
    """One-frame chunks have no B-frame delay, long ones do; the join must still be valid."""
    spec = RenderSpec(start_s=0.0, end_s=1.0, preset="veryfast")
    edges = [(0, 1), (1, 2), (2, 27), (27, 28), (28, 30)]
    chunks = tuple(ChunkPlan(i, a, b, a / 30, b / 30) for i, (a, b) in enumerate(edges))
    plan = RenderPlan(720, 1280, 30, 1, 30, chunks, True)
    paths = [str(tmp_path / f"c{c.index}.mp4") for c in chunks]
    for chunk, path in zip(chunks, paths, strict=True):
        render_chunk(str(source), spec, plan, chunk, path)
    out = join_chunks(plan, paths, None, str(tmp_path / "out.mp4"))
    with av.open(out.path) as container:
        packets = [p for p in container.demux(video=0) if p.size > 0]
    dts = [p.dts for p in packets]
    assert len(packets) == 30
    assert all(b > a for a, b in itertools.pairwise(dts))
    assert all(p.dts <= p.pts for p in packets)
    assert read_media(out.path).video_pts_s == pytest.approx([n / 30 for n in range(30)], abs=1e-3)


def test_join_refuses_a_missing_chunk(source: Path, tmp_path: Path) -> None:
    plan = plan_render(probe(str(source)), SPEC)
    paths = [str(tmp_path / f"c{c.index}.mp4") for c in plan.chunks]
    with pytest.raises(RenderError) as caught:
        join_chunks(plan, paths, None, str(tmp_path / "out.mp4"))
    assert caught.value.code == "render_failed"
    assert not (tmp_path / "out.mp4").exists()


def test_a_finished_chunk_is_not_rendered_again(source: Path, tmp_path: Path) -> None:
    plan = plan_render(probe(str(source)), SPEC)
    chunk = plan.chunks[1]
    path = str(tmp_path / "c.mp4")
    render_chunk(str(source), SPEC, plan, chunk, path)
    before = os.stat(path)
    calls: list[int] = []
    render_chunk(str(source), SPEC, plan, chunk, path, on_frames=calls.append)
    after = os.stat(path)
    assert calls == []
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_chunk_from_another_spec_is_rendered_again(source: Path, tmp_path: Path) -> None:
    plan = plan_render(probe(str(source)), SPEC)
    path = str(tmp_path / "c.mp4")
    render_chunk(str(source), SPEC, plan, plan.chunks[0], path)
    calls: list[int] = []
    other = RenderSpec(start_s=SPEC.start_s, end_s=SPEC.end_s, chunk_s=SPEC.chunk_s, crf=30)
    render_chunk(str(source), other, plan, plan.chunks[0], path, on_frames=calls.append)
    assert calls and calls[-1] == plan.chunks[0].frame_count
    assert is_chunk_complete(path, plan.chunks[0])


def test_render_resumes_from_finished_chunks(source: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    seen_chunks: list[int] = []

    def cancel_after_two_chunks() -> bool:
        return len(seen_chunks) > 0 and seen_chunks[-1] >= 2

    with pytest.raises(RenderCancelled):
        render(
            str(source),
            SPEC,
            str(tmp_path / "out.mp4"),
            work_dir=str(work),
            on_progress=lambda p: seen_chunks.append(p.chunks_done),
            should_cancel=cancel_after_two_chunks,
        )
    finished = {p.name: os.stat(p) for p in work.glob("*-chunk*.mp4")}
    assert len(finished) >= 2
    assert not list(work.glob(".*part*")) and not (tmp_path / "out.mp4").exists()

    progress: list[int] = []
    render(
        str(source),
        SPEC,
        str(tmp_path / "out.mp4"),
        work_dir=str(work),
        on_progress=lambda p: progress.append(p.frames_done),
    )
    for name, before in finished.items():
        after = os.stat(work / name)
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    plan = plan_render(probe(str(source)), SPEC)
    resumed_frames = sum(c.frame_count for c in plan.chunks if any(
        name.endswith(f"-chunk{c.index:04d}.mp4") for name in finished
    ))  # fmt: skip
    assert progress[0] == resumed_frames  # reused chunks count at once, frame by frame never
    assert min(progress) == resumed_frames
    assert read_media(tmp_path / "out.mp4", decode_audio=False).frames == 72


def test_cancel_stops_within_half_a_second_and_cleans_up(tmp_path: Path) -> None:
    from tests.media import make_video

    src = make_video(tmp_path / "long.mp4", duration_s=8.0)
    work = tmp_path / "work"
    cancelled_at: list[float] = []

    def cancel() -> None:
        cancelled_at.append(time.monotonic())

    threading.Timer(0.8, cancel).start()
    spec = RenderSpec(start_s=0.0, end_s=8.0, resolution="1080p", chunk_s=2.0)
    with pytest.raises(RenderCancelled) as caught:
        render(str(src), spec, str(tmp_path / "out.mp4"), work_dir=str(work),
               should_cancel=lambda: bool(cancelled_at))  # fmt: skip
    stopped = time.monotonic()
    assert caught.value.code == "cancelled"
    assert stopped - cancelled_at[0] <= 0.5
    assert [p.name for p in work.iterdir() if "part" in p.name] == []
    assert not (tmp_path / "out.mp4").exists()
