"""Small generated sources shared by the render tests (made once per session), plus helpers
that read rendered files back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from tests.media import make_video


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("render-media")


@pytest.fixture(scope="session")
def source(media_dir: Path) -> Path:
    """3 s, 320×240, 30 fps, stereo 48 kHz tone."""
    return make_video(media_dir / "source.mp4")


@pytest.fixture(scope="session")
def silent_source(media_dir: Path) -> Path:
    return make_video(media_dir / "silent.mp4", duration_s=2.0, audio_channels=0)


@pytest.fixture(scope="session")
def counter_source(media_dir: Path) -> Path:
    """Flat frames whose grey level names the frame index; keyframe every 30 frames."""
    return make_video(media_dir / "counter.mp4", duration_s=3.0, pattern="counter")


@dataclass
class Media:
    """What a rendered file holds, read back with PyAV."""

    width: int
    height: int
    pix_fmt: str
    video_codec: str
    frames: int
    video_pts_s: list[float]
    keyframes_s: list[float]
    duration_s: float
    audio_codec: str | None
    audio_rate: int
    audio_channels: int
    audio: np.ndarray | None


def read_media(path: Path | str, *, decode_audio: bool = True) -> Media:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        packets = [p for p in container.demux(video) if p.size > 0]
        assert video.time_base is not None
        pts = sorted(float(p.pts * video.time_base) for p in packets if p.pts is not None)
        keys = sorted(
            float(p.pts * video.time_base) for p in packets if p.is_keyframe and p.pts is not None
        )
        media = Media(
            width=video.codec_context.width,
            height=video.codec_context.height,
            pix_fmt=video.codec_context.pix_fmt or "",
            video_codec=video.codec_context.name,
            frames=len(packets),
            video_pts_s=pts,
            keyframes_s=keys,
            duration_s=(container.duration or 0) / av.time_base,
            audio_codec=None,
            audio_rate=0,
            audio_channels=0,
            audio=None,
        )
    if not decode_audio:
        return media
    with av.open(str(path)) as container:
        if container.streams.audio:
            stream = container.streams.audio[0]
            media.audio_codec = stream.codec_context.name
            media.audio_rate = stream.codec_context.sample_rate
            media.audio_channels = stream.codec_context.channels
            chunks = [f.to_ndarray() for f in container.decode(stream)]
            media.audio = np.concatenate(chunks, axis=1)
    return media


def frame_luma(path: Path | str, index: int) -> np.ndarray:
    """The Y plane of output frame ``index`` (decode order = display order for our files)."""
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return np.asarray(frame.to_ndarray(format="gray"), dtype=np.float64)
    raise AssertionError(f"{path} has no frame {index}")


def all_luma_means(path: Path | str) -> list[float]:
    with av.open(str(path)) as container:
        return [float(f.to_ndarray(format="gray").mean()) for f in container.decode(video=0)]
