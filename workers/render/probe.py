"""What a source file is: display size, frame rate, duration and audio layout."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import av.container

from ._av import ffmpeg_errors, open_input
from .errors import NotAVideo, UnsupportedCodec
from .spec import SourceInfo


def probe(path: str) -> SourceInfo:
    """Describe ``path``, decoding one frame so that undecodable video fails here, not mid-render.

    Raises NotAVideo for empty/corrupt files or files without video, UnsupportedCodec when the
    video or audio codec has no decoder in this build, RenderError("not_a_video") for any
    other libav failure while reading.
    """
    name = os.path.basename(path)
    with open_input(path) as container, ffmpeg_errors("reading the source", code="not_a_video"):
        video = next((s for s in container.streams.video if not _is_cover_art(s)), None)
        if video is None:
            raise NotAVideo(f"{name} has no video stream")
        codec_name = video.codec_context.name if video.codec_context is not None else ""
        if not codec_name or not _has_decoder(codec_name):
            raise UnsupportedCodec(
                f"{name}: video codec {codec_name or 'unknown'} is not supported"
            )
        first = _first_frame(container, video, name)
        rotation = (-first.rotation) % 360
        coded_w, coded_h = first.width, first.height
        sar = _sar(video)
        display_w, display_h = round(coded_w * sar), coded_h
        if rotation in (90, 270):
            display_w, display_h = display_h, display_w
        audio = container.streams.audio[0] if container.streams.audio else None
        if audio is not None and (audio.codec_context is None or not audio.codec_context.name):
            raise UnsupportedCodec(f"{name}: its audio codec is not supported")
        return SourceInfo(
            duration_s=_duration(container, video),
            width=display_w,
            height=display_h,
            fps=_fps(video),
            has_audio=audio is not None,
            video_codec=codec_name,
            audio_codec=audio.codec_context.name if audio is not None else None,
            audio_channels=audio.codec_context.channels if audio is not None else 0,
            audio_sample_rate=audio.codec_context.sample_rate if audio is not None else 0,
            rotation=rotation,
            coded_width=coded_w,
            coded_height=coded_h,
            sample_aspect_ratio=float(sar),
            keyframes_s=_keyframes(container, video),
        )


def _is_cover_art(stream: av.video.stream.VideoStream) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _has_decoder(codec_name: str) -> bool:
    try:
        av.codec.Codec(codec_name, "r")
    except (av.codec.codec.UnknownCodecError, ValueError):
        return False
    return True


def _first_frame(
    container: av.container.InputContainer, video: av.video.stream.VideoStream, name: str
) -> av.VideoFrame:
    try:
        for frame in container.decode(video):
            return frame
    except av.FFmpegError as exc:
        raise NotAVideo(f"{name}: its video cannot be decoded") from exc
    raise NotAVideo(f"{name} holds no video frames")


def _sar(video: av.video.stream.VideoStream) -> Fraction:
    """Sample aspect ratio from the stream or codec; 0/unknown means square pixels."""
    for sar in (video.sample_aspect_ratio, video.codec_context.sample_aspect_ratio):
        if sar is not None and sar > 0:
            return Fraction(sar)
    return Fraction(1)


def _fps(video: av.video.stream.VideoStream) -> float:
    for rate in (video.average_rate, video.guessed_rate, video.base_rate):
        if rate is not None and rate > 0:
            return float(rate)
    return 30.0


def timeline_origin(container: av.container.InputContainer) -> float:
    """Seconds at which the file's timeline starts; moment times are measured from here."""
    if container.start_time is None:
        return 0.0
    return container.start_time / av.time_base


def _duration(container: av.container.InputContainer, video: av.video.stream.VideoStream) -> float:
    """Seconds from the timeline origin to the end of the video stream (else the container's)."""
    if video.duration and video.time_base is not None:
        start = video.start_time or 0
        end = float((start + video.duration) * video.time_base)
        return max(0.0, end - timeline_origin(container))
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return 0.0


def _keyframes(
    container: av.container.InputContainer, video: av.video.stream.VideoStream
) -> tuple[float, ...]:
    """Keyframe times from the container's index (read from the header, no demuxing)."""
    if video.time_base is None:
        return ()
    origin = timeline_origin(container)
    base = video.time_base
    return tuple(
        round(float(entry.timestamp * base) - origin, 6)
        for entry in video.index_entries
        if entry.is_keyframe
    )
