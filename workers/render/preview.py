"""The live preview's media: each finished chunk remuxed into an HLS (MPEG-TS) segment, and a
poster frame, so a clip can be watched while the rest of it still renders.

Segments sit on one global timeline (``PREVIEW_OFFSET_S`` + moment time), so a playlist of
them plays continuously; video is never re-encoded, and the audio track's layout is the same
whether a segment carries the real AAC or the silence that stands in until it is rendered.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from contextlib import ExitStack
from fractions import Fraction

import av
import av.container
import av.stream
import numpy as np
import numpy.typing as npt
from PIL import Image

from ._av import ffmpeg_errors, open_input
from .audio import SAMPLE_RATE
from .errors import NotAVideo
from .files import atomic_path
from .spec import ChunkPlan, RenderPlan

#: Seconds added to every timestamp: more than any encoder delay, so no dts is negative and
#: the muxer never shifts a segment on its own.
PREVIEW_OFFSET_S = 10

#: Output frames by which every segment's dts trails its pts; at least x264's decode delay,
#: so all segments share one dts offset and dts keeps increasing from one segment to the next.
_DTS_LEAD_FRAMES = 4

#: Samples per AAC frame: the audio packet grid, anchored at the moment's start.
_AAC_FRAME = 1024

#: Timestamps as given (no muxer shift); each segment's continuity counters start afresh,
#: which its first packets say, so segments played back to back are not "corrupt".
_TS_OPTIONS = {"mpegts_copyts": "1", "mpegts_flags": "+initial_discontinuity"}
_TS_TIME_BASE = Fraction(1, 90000)
_AUDIO_TIME_BASE = Fraction(1, SAMPLE_RATE)

#: Poster candidates whose luma varies less than this (0–255) are blank: they lose to any
#: frame with content, however sharp their noise.
_BLANK_STD = 6.0
_JPEG_QUALITY = 85

_Item = tuple[Fraction, int, "av.Packet[av.stream.Stream]"]
_Luma = npt.NDArray[np.float32]


def segment_duration_s(plan: RenderPlan, chunk: ChunkPlan) -> float:
    """Seconds ``chunk``'s segment lasts: its playlist EXTINF."""
    return float(chunk.frame_count / Fraction(plan.fps_num, plan.fps_den))


def make_segment(
    chunk_path: str, plan: RenderPlan, chunk: ChunkPlan, audio_path: str | None, out_path: str
) -> str:
    """Remux the rendered ``chunk`` into an MPEG-TS segment at ``out_path`` (atomic).

    With ``plan.has_audio`` the segment carries the AAC packets of ``audio_path`` that start
    within the chunk, or silence of the same layout while ``audio_path`` is None. Raises
    NotAVideo for a missing or unreadable chunk, RenderError("render_failed") otherwise.
    """
    with ffmpeg_errors("making a preview segment"), ExitStack() as stack:
        chunk_in = stack.enter_context(open_input(chunk_path))
        temp = stack.enter_context(atomic_path(out_path))
        output = stack.enter_context(av.open(temp, "w", format="mpegts", options=_TS_OPTIONS))
        video_in = chunk_in.streams.video[0]
        video_out = output.add_stream_from_template(video_in)
        sources = [_video_packets(chunk_in, video_in, video_out, plan, chunk)]
        if plan.has_audio and audio_path is not None:
            audio_in = stack.enter_context(open_input(audio_path))
            stream = audio_in.streams.audio[0]
            audio_out = output.add_stream_from_template(stream)
            sources.append(_audio_packets(audio_in, stream, audio_out, plan, chunk))
        elif plan.has_audio:
            sources.append(_silent_packets(_add_silent_track(output, plan), plan, chunk))
        for _, _, packet in heapq.merge(*sources, key=lambda item: (item[0], item[1])):
            output.mux_one(packet)
    return out_path


def _video_packets(
    container: av.container.InputContainer,
    stream: av.stream.Stream,
    out_stream: av.stream.Stream,
    plan: RenderPlan,
    chunk: ChunkPlan,
) -> Iterator[_Item]:
    """The chunk's packets moved from its local timeline onto the global one, in 90 kHz ticks.

    A chunk's first dts is minus its own encoder delay, which is shorter in tiny chunks; dts
    are lowered so every segment's start ``_DTS_LEAD_FRAMES`` before its pts (a chunk with a
    longer delay keeps its own).
    """
    assert stream.time_base is not None
    frame = 1 / Fraction(plan.fps_num, plan.fps_den)
    shift = PREVIEW_OFFSET_S + chunk.first_frame * frame
    dts_shift: Fraction | None = None
    for packet in container.demux(stream):
        if packet.size == 0 or packet.pts is None or packet.dts is None:
            continue
        dts = packet.dts * stream.time_base
        if dts_shift is None:
            dts_shift = max(Fraction(0), dts + _DTS_LEAD_FRAMES * frame)
        pts = packet.pts * stream.time_base
        packet.pts = round((shift + pts) / _TS_TIME_BASE)
        packet.dts = round((shift + dts - dts_shift) / _TS_TIME_BASE)
        packet.duration = round(frame / _TS_TIME_BASE)
        packet.time_base = _TS_TIME_BASE
        packet.stream = out_stream
        yield packet.dts * _TS_TIME_BASE, out_stream.index, packet


def _audio_window(plan: RenderPlan, chunk: ChunkPlan) -> tuple[Fraction | None, Fraction | None]:
    """Moment samples [first, end) where the audio packets of ``chunk``'s segment start.

    The first segment is open below (the encoder's priming packet starts before zero) and the
    last one above (a packet may start past the final frame), so every packet lands in exactly
    one segment.
    """
    per_frame = Fraction(SAMPLE_RATE * plan.fps_den, plan.fps_num)
    first = chunk.first_frame * per_frame if chunk.first_frame > 0 else None
    end = chunk.end_frame * per_frame if chunk.end_frame < plan.total_frames else None
    return first, end


def _audio_packets(
    container: av.container.InputContainer,
    stream: av.stream.Stream,
    out_stream: av.stream.Stream,
    plan: RenderPlan,
    chunk: ChunkPlan,
) -> Iterator[_Item]:
    """The AAC packets of the rendered moment audio that belong to ``chunk``, copied."""
    assert stream.time_base is not None
    first, end = _audio_window(plan, chunk)
    for packet in container.demux(stream):
        if packet.size == 0 or packet.pts is None:
            continue
        start = packet.pts * stream.time_base * SAMPLE_RATE
        if end is not None and start >= end:
            break
        if first is None or start >= first:
            yield _stamped(packet, int(start), out_stream)


def _add_silent_track(output: av.container.OutputContainer, plan: RenderPlan) -> av.AudioStream:
    """An AAC track of the rate and layout ``render_audio`` writes, so a player never sees the
    track change when real audio replaces the silence."""
    source = plan.source
    layout = "mono" if source is not None and source.audio_channels == 1 else "stereo"
    return output.add_stream("aac", rate=SAMPLE_RATE, layout=layout)


def _silent_packets(stream: av.AudioStream, plan: RenderPlan, chunk: ChunkPlan) -> Iterator[_Item]:
    """One encoded frame of silence, repeated on the real track's grid: packet ``n`` starts at
    moment sample ``n * 1024``, the first at -1024 like the encoder's priming packet."""
    silence = _encoded_silence(stream)
    first, end = _audio_window(plan, chunk)
    if end is None:
        end = plan.total_frames * Fraction(SAMPLE_RATE * plan.fps_den, plan.fps_num)
    first_n = math.ceil(first / _AAC_FRAME) if first is not None else -1
    for n in range(first_n, math.ceil(end / _AAC_FRAME)):
        yield _stamped(av.Packet(silence), n * _AAC_FRAME, stream)


def _encoded_silence(stream: av.AudioStream) -> bytes:
    """An AAC frame of digital silence (a steady-state one, past the encoder's priming)."""
    layout = stream.codec_context.layout.name
    channels = stream.codec_context.channels
    packets: list[av.Packet[av.AudioStream]] = []
    for index in range(3):
        frame = av.AudioFrame.from_ndarray(
            np.zeros((channels, _AAC_FRAME), dtype=np.float32), format="fltp", layout=layout
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = index * _AAC_FRAME
        frame.time_base = _AUDIO_TIME_BASE
        packets += stream.encode(frame)
    return bytes(packets[-1])


def _stamped(
    packet: av.Packet[av.stream.Stream], start: int, out_stream: av.stream.Stream
) -> _Item:
    """``packet`` placed at moment sample ``start`` on the preview timeline."""
    packet.pts = packet.dts = start + PREVIEW_OFFSET_S * SAMPLE_RATE
    packet.duration = _AAC_FRAME
    packet.time_base = _AUDIO_TIME_BASE
    packet.stream = out_stream
    return packet.dts * _AUDIO_TIME_BASE, out_stream.index, packet


def make_poster(chunk_path: str, out_path: str, *, samples: int = 8) -> str:
    """Write the sharpest of ``samples`` frames spread over the chunk as a JPEG at ``out_path``
    (atomic), at the chunk's size; a blank frame wins only if every candidate is blank.

    Raises NotAVideo for a missing or unreadable chunk, RenderError("render_failed") otherwise.
    """
    with ffmpeg_errors("making a preview poster"):
        best = max(_candidates(chunk_path, samples), key=_score, default=None)
        if best is None:
            raise NotAVideo("the chunk holds no decodable frames")
        with atomic_path(out_path) as temp:
            Image.fromarray(best.to_ndarray(format="rgb24")).save(
                temp, format="JPEG", quality=_JPEG_QUALITY
            )
    return out_path


def _candidates(chunk_path: str, samples: int) -> Iterator[av.VideoFrame]:
    """``samples`` frames evenly spread over the chunk (the middle of each equal slice)."""
    samples = max(1, samples)
    with open_input(chunk_path) as container:
        stream = container.streams.video[0]
        count = stream.frames or sum(1 for p in container.demux(stream) if p.size > 0)
        container.seek(0)
        stream.thread_type = "AUTO"  # on the critical path to the first preview
        wanted = {(2 * i + 1) * count // (2 * samples) for i in range(samples)}
        last = max(wanted)
        for index, frame in enumerate(container.decode(stream)):
            if index in wanted:
                yield frame
            if index >= last:
                return


def _score(frame: av.VideoFrame) -> tuple[bool, float]:
    """(not blank, variance of the luma Laplacian): any frame with content beats a blank one,
    and among those the sharpest wins."""
    luma: _Luma = frame.to_ndarray(format="gray").astype(np.float32)
    laplacian = (
        4 * luma[1:-1, 1:-1] - luma[:-2, 1:-1] - luma[2:, 1:-1] - luma[1:-1, :-2] - luma[1:-1, 2:]
    )
    return float(luma.std()) >= _BLANK_STD, float(laplacian.var())
