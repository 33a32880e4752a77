"""Joining chunk files and the audio track into the final MP4 by remuxing packets only."""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator, Sequence
from fractions import Fraction

import av
import av.container
import av.stream

from ._av import ffmpeg_errors
from .errors import RenderError
from .files import atomic_path
from .spec import OutputInfo, RenderPlan
from .video import is_chunk_complete


def join_chunks(
    plan: RenderPlan, chunk_paths: Sequence[str], audio_path: str | None, out_path: str
) -> OutputInfo:
    """Concatenate ``chunk_paths`` (in plan order) and mux ``audio_path`` into a faststart MP4.

    Chunk timestamps are local, so each chunk is shifted by its first frame's time; video is
    never re-encoded. Raises RenderError if a chunk is missing or incomplete.
    """
    if len(chunk_paths) != len(plan.chunks):
        raise RenderError(f"expected {len(plan.chunks)} chunk files, got {len(chunk_paths)}")
    for chunk, path in zip(plan.chunks, chunk_paths, strict=True):
        if not is_chunk_complete(path, chunk):
            raise RenderError(f"chunk {chunk.index} is missing or incomplete")
    with (
        ffmpeg_errors("joining chunks"),
        atomic_path(out_path) as temp,
        av.open(temp, "w", format="mp4", options={"movflags": "+faststart"}) as output,
    ):
        _mux(plan, chunk_paths, audio_path, output)
    return describe_output(out_path, plan)


def _mux(
    plan: RenderPlan,
    chunk_paths: Sequence[str],
    audio_path: str | None,
    output: av.container.OutputContainer,
) -> None:
    with av.open(chunk_paths[0], "r") as first:
        video_out = output.add_stream_from_template(first.streams.video[0])
    sources = [_video_packets(plan, chunk_paths, video_out)]
    audio_in = av.open(audio_path, "r") if audio_path is not None else None
    try:
        if audio_in is not None:
            audio_out = output.add_stream_from_template(audio_in.streams.audio[0])
            sources.append(_packets(audio_in, audio_in.streams.audio[0], audio_out, 0))
        for _, _, packet in heapq.merge(*sources, key=lambda item: (item[0], item[1])):
            output.mux_one(packet)
    finally:
        if audio_in is not None:
            audio_in.close()


_Item = tuple[Fraction, int, "av.Packet[av.stream.Stream]"]


def _video_packets(
    plan: RenderPlan, chunk_paths: Sequence[str], out_stream: av.stream.Stream
) -> Iterator[_Item]:
    """Every chunk's packets on the global timeline.

    A chunk's first dts is minus its encoder delay; short chunks can have less delay than
    long ones, so each chunk's dts is lowered to the largest delay, keeping dts increasing.
    """
    rate = Fraction(plan.fps_num, plan.fps_den)
    delays = [_decode_delay(path) for path in chunk_paths]
    most = max(delays)
    for chunk, path, delay in zip(plan.chunks, chunk_paths, delays, strict=True):
        with av.open(path, "r") as container:
            stream = container.streams.video[0]
            assert stream.time_base is not None
            offset = round(chunk.first_frame / rate / stream.time_base)
            dts_shift = round((delay - most) / stream.time_base)
            yield from _packets(container, stream, out_stream, offset, dts_shift=dts_shift)


def _decode_delay(path: str) -> Fraction:
    """Seconds by which a chunk's first packet is decoded before time zero (its encoder delay)."""
    with av.open(path, "r") as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        for packet in container.demux(stream):
            if packet.dts is not None and packet.size > 0:
                return max(Fraction(0), -packet.dts * stream.time_base)
    return Fraction(0)


def _packets(
    container: av.container.InputContainer,
    stream: av.stream.Stream,
    out_stream: av.stream.Stream,
    offset: int,
    *,
    dts_shift: int = 0,
) -> Iterator[_Item]:
    """Real packets of ``stream`` shifted by ``offset`` ticks (dts by ``dts_shift`` more),
    keyed by decode time for merging."""
    assert stream.time_base is not None
    for packet in container.demux(stream):
        if packet.size == 0 or packet.dts is None:
            continue
        packet.dts += offset + dts_shift
        if packet.pts is not None:
            packet.pts += offset
        packet.stream = out_stream
        packet.time_base = stream.time_base
        yield packet.dts * stream.time_base, out_stream.index, packet


def describe_output(path: str, plan: RenderPlan) -> OutputInfo:
    """The finished file as users see it: bytes, seconds, pixels, audio or not."""
    with ffmpeg_errors("reading the output"), av.open(path, "r") as container:
        duration = (container.duration or 0) / av.time_base
        video = container.streams.video[0]
        return OutputInfo(
            path=path,
            size_bytes=os.path.getsize(path),
            duration_s=duration,
            width=video.codec_context.width or plan.width,
            height=video.codec_context.height or plan.height,
            has_audio=bool(container.streams.audio),
        )
