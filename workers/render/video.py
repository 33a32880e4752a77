"""One chunk of video: seek, decode, pick one source frame per output frame, reframe, caption,
encode to its own H.264 file that starts with an IDR and has local timestamps from 0."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from fractions import Fraction

import av
import av.container
import av.video.stream

from ._av import decoded_frames, ffmpeg_errors, open_input
from .cancel import CancelPoller
from .captions import CaptionTrack, ImageKey
from .encoder import EncoderThread, add_encoder
from .errors import InvalidRenderSpec, NotAVideo
from .files import atomic_path
from .focus import FocusPath
from .probe import probe, timeline_origin
from .reframe import CropRect, Reframer
from .spec import CancelCheck, ChunkPlan, RenderPlan, RenderSpec, SourceInfo

#: Container comment that marks a finished chunk file and which frames it holds.
_MARKER = "reelay-chunk"


def _marker(spec: RenderSpec, plan: RenderPlan, chunk: ChunkPlan) -> str:
    """Which frames a chunk file holds, then a fingerprint of everything that shaped them."""
    fingerprint = hashlib.sha256(f"{spec!r}|{plan.width}x{plan.height}|{plan.fps}".encode())
    return f"{_chunk_id(chunk)} {fingerprint.hexdigest()[:16]}"


def _chunk_id(chunk: ChunkPlan) -> str:
    return f"{_MARKER} {chunk.index} {chunk.first_frame} {chunk.end_frame}"


def _finished_marker(path: str, chunk: ChunkPlan) -> str | None:
    """The marker of a finished chunk file holding exactly ``chunk``'s frames, else None."""
    if not os.path.isfile(path):
        return None
    try:
        with av.open(path, "r") as container:
            marker = container.metadata.get("comment", "")
            if not marker.startswith(_chunk_id(chunk) + " ") or not container.streams.video:
                return None
            video = container.streams.video[0]
            packets = [p for p in container.demux(video) if p.size > 0]
    except (av.FFmpegError, OSError):
        return None
    if len(packets) != chunk.frame_count or not packets[0].is_keyframe:
        return None
    return marker


def is_chunk_complete(path: str, chunk: ChunkPlan) -> bool:
    """True if ``path`` is a finished chunk file holding exactly ``chunk``'s frames."""
    return _finished_marker(path, chunk) is not None


def render_chunk(
    src_path: str,
    spec: RenderSpec,
    plan: RenderPlan,
    chunk: ChunkPlan,
    out_path: str,
    *,
    on_frames: Callable[[int], None] | None = None,
    should_cancel: CancelCheck | None = None,
) -> str:
    """Render ``chunk`` to a video-only MP4 at ``out_path`` (atomically) and return the path.

    The source's facts come from ``plan.source`` (probed once, when planning); only a plan
    without them makes this probe ``src_path``. A file already holding this finished chunk
    (same spec and plan) is kept as is. Raises RenderCancelled (partial file removed),
    NotAVideo, or RenderError("render_failed").
    """
    if _finished_marker(out_path, chunk) == _marker(spec, plan, chunk):
        return out_path
    source = plan.source if plan.source is not None else probe(src_path)
    poller = CancelPoller(should_cancel)
    with (
        ffmpeg_errors("encoding video"),
        atomic_path(out_path) as temp,
        open_input(src_path) as container,
        av.open(temp, "w", format="mp4") as output,
    ):
        output.metadata["comment"] = _marker(spec, plan, chunk)
        _ChunkRenderer(container, output, spec, plan, chunk, source).run(poller, on_frames)
    return out_path


class _ChunkRenderer:
    """The decode → select → filter → caption → encode loop of one chunk.

    Output frame ``n`` shows the latest source frame at or before its time (a quarter frame of
    slack absorbs rounded timestamps), which makes variable-rate sources constant-rate.
    """

    def __init__(
        self,
        container: av.container.InputContainer,
        output: av.container.OutputContainer,
        spec: RenderSpec,
        plan: RenderPlan,
        chunk: ChunkPlan,
        source: SourceInfo,
    ) -> None:
        self.container = container
        self.video = container.streams.video[0]
        self.video.thread_type = "AUTO"
        self.spec = spec
        self.chunk = chunk
        self.rate = Fraction(plan.fps_num, plan.fps_den)
        self.origin = timeline_origin(container)
        if spec.needs_analysis:
            raise InvalidRenderSpec("an auto-focus spec must be analysed before chunks render")
        self.path = FocusPath(spec.focus_track) if spec.focus_track else None
        self.reframer = Reframer(
            self.video, source, plan.width, plan.height, self._focus(chunk.first_frame)
        )
        self.graph = self.reframer.graph
        shown = tuple(
            c for c in spec.captions if c.end_s > chunk.start_s and c.start_s < chunk.end_s
        )
        self.captions = CaptionTrack(shown, plan.width, plan.height, spec.caption_style)
        self.output = output
        self.encoder = EncoderThread(output, add_encoder(output, plan, spec))
        self._seeked = False
        self._cached_source: av.VideoFrame | None = None
        self._cached_captions: tuple[ImageKey, ...] = ()
        self._cached_rect: CropRect | None = None
        self._cached: av.VideoFrame | None = None

    def _focus(self, slot: int) -> tuple[float, float | None]:
        """Where the crop is centred for output frame ``slot``: the track's point at the
        frame's source time (the same on every worker), else the static ``focus_x``."""
        if self.path is None:
            return self.spec.focus_x, None
        return self.path.at(self.slot_time(slot))

    def slot_time(self, slot: int) -> float:
        """Source time (seconds from the origin) shown by global output frame ``slot``."""
        return self.spec.start_s + float(slot / self.rate)

    def run(self, poller: CancelPoller, on_frames: Callable[[int], None] | None) -> None:
        """Render every frame of the chunk; the encoder thread never outlives this call."""
        try:
            self._run(poller, on_frames)
        finally:
            self.encoder.abort()

    def _run(self, poller: CancelPoller, on_frames: Callable[[int], None] | None) -> None:
        tolerance = 0.25 / float(self.rate)
        first, end = self.chunk.first_frame, self.chunk.end_frame
        slot = first
        previous: av.VideoFrame | None = None
        for frame in self._frames_from_start(poller, tolerance):
            if frame.time is None:
                continue
            t = frame.time - self.origin
            while slot < end and self.slot_time(slot) + tolerance < t:
                self._emit(previous or frame, slot)
                slot += 1
                if on_frames is not None:
                    on_frames(slot - first)
            if slot >= end:
                break
            previous = frame
        if previous is None:
            raise NotAVideo("no video frames could be decoded in the requested range")
        while slot < end:
            poller.check()
            self._emit(previous, slot)
            slot += 1
            if on_frames is not None:
                on_frames(slot - first)
        self.encoder.finish()

    def _frames_from_start(self, poller: CancelPoller, tolerance: float) -> Iterator[av.VideoFrame]:
        """Frames from a keyframe at or before the chunk's first output frame.

        If the container's seek lands after that frame (loose indexes, or index times that are
        decode times), seek again further back, so the cut stays frame-accurate.
        """
        first_time = self.slot_time(self.chunk.first_frame)
        target, step = first_time - tolerance, 1.0
        while True:
            self._seek(target)
            frames = decoded_frames(self.container, self.video, av.VideoFrame, poller)
            head = next(frames, None)
            if head is None or target <= 0.0:
                break
            if head.time is not None and head.time - self.origin <= first_time + tolerance:
                break
            target, step = target - step, step * 2
        if head is not None:
            yield head
        yield from frames

    def _seek(self, t: float) -> None:
        """Seek to the keyframe at or before source time ``t``; the file start if ``t <= 0``."""
        if self.video.time_base is None or (t <= 0.0 and not self._seeked):
            return
        self._seeked = True
        target = max(0.0, t) + self.origin
        self.container.seek(int(target / self.video.time_base), stream=self.video, backward=True)

    def _emit(self, frame: av.VideoFrame, slot: int) -> None:
        """Encode ``frame`` as output frame ``slot``; reuse the reframed picture for repeats."""
        active = self.captions.active(self.slot_time(slot))
        rect = self.reframer.move(self._focus(slot)) if self.path is not None else None
        if (
            frame is not self._cached_source
            or active != self._cached_captions
            or rect != self._cached_rect
            or not self._cached
        ):
            self.graph.vpush(frame)
            picture = self.graph.vpull()
            picture.pict_type = av.video.frame.PictureType.NONE
            if active:
                picture = self.captions.apply(picture, active)
            self._cached_source, self._cached_captions, self._cached = frame, active, picture
            self._cached_rect = rect
        self.encoder.submit(self._cached, slot - self.chunk.first_frame)
