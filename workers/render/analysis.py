"""Auto reframe's analysis: faces in pictures sampled across the moment → a focus track.

Runs once per export, before any chunk renders (the plan step, or ``render`` for the command
line); the track it returns goes into the spec, so every chunk on every machine renders the
same camera. Pictures are decoded at low resolution (``ANALYSIS_SIDE`` on the long side) and
sampled at ``sample_fps`` (≥ 5) of source time.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt

from ._av import decoded_frames, ffmpeg_errors, open_input
from .camera import CameraSettings, Sample, follow
from .cancel import CancelPoller
from .faces import FaceDetector, shared_detector
from .focus import FocusPoint, FocusTrack
from .plan import output_size
from .probe import timeline_origin
from .spec import CancelCheck, RenderSpec, SourceInfo

#: Short side (display pixels) of the pictures the detector's tiles are cut from: a little
#: over its 192-pixel input, so the downscale averages detail rather than dropping it.
ANALYSIS_SHORT_SIDE = 216
#: Every this many seconds (and after a picture without a face) the whole picture is
#: searched; in between, only the tile around the face last seen.
FULL_SCAN_S = 1.0
#: Pictures analysed per second of source time (the issue asks for at least 5).
SAMPLE_FPS = 5.0
#: Seconds decoded before the moment's start, so the first sample has a picture.
_PREROLL_S = 1.0

AnalysisProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class FocusAnalysis:
    """What the analysis decided: the track (never empty), whether it fell back to the
    static ``focus_x`` for want of a face, and what it cost."""

    track: FocusTrack
    fallback: bool
    samples: int
    samples_with_faces: int
    detect_s: float

    @property
    def detect_ms_per_sample(self) -> float:
        return 1000 * self.detect_s / max(1, self.samples)


def crop_fractions(source: SourceInfo, spec: RenderSpec) -> tuple[float, float]:
    """The crop's (width, height) as fractions of the display frame."""
    out_w, out_h = output_size(source, spec.aspect_ratio, spec.resolution)
    source_aspect, target = source.width / source.height, out_w / out_h
    return min(1.0, target / source_aspect), min(1.0, source_aspect / target)


def sample_count(spec: RenderSpec, sample_fps: float = SAMPLE_FPS) -> int:
    """How many pictures the analysis of ``spec``'s moment looks at."""
    return max(1, int((spec.end_s - spec.start_s) * sample_fps) + 1)


def analyse_focus(
    src_path: str,
    spec: RenderSpec,
    source: SourceInfo,
    *,
    camera: CameraSettings | None = None,
    sample_fps: float = SAMPLE_FPS,
    detector: FaceDetector | None = None,
    on_progress: AnalysisProgress | None = None,
    should_cancel: CancelCheck | None = None,
) -> FocusAnalysis:
    """Find the subject's face through the moment and fly the virtual camera after it.

    Decoding runs in a thread of its own, a few pictures ahead of the detector, so the two
    share the machine's cores. No face seen often enough anywhere → the one-point track at
    ``spec.focus_x`` with ``fallback`` set. Raises RenderCancelled (the cancel check is
    asked at every picture, at most every 0.1 s), NotAVideo or RenderError("render_failed").
    """
    detect = detector or shared_detector()
    total = sample_count(spec, sample_fps)
    times = [spec.start_s + k / sample_fps for k in range(total)]
    poller = CancelPoller(should_cancel)
    samples: list[Sample] = []
    detect_s = 0.0
    scan_every = max(1, round(FULL_SCAN_S * sample_fps))
    with _Pictures(src_path, source, times, sample_fps, poller.check) as pictures:
        for picture in pictures:
            started = time.perf_counter()
            index = len(samples)
            last = samples[-1].faces if samples else ()
            if last and index % scan_every:
                faces = detect.detect_near(picture, max(last, key=lambda f: f.area))
            else:
                faces = detect.detect(picture)
            samples.append(Sample(times[index], tuple(faces)))
            detect_s += time.perf_counter() - started
            if on_progress is not None:
                on_progress(len(samples), total)
    crop_w, crop_h = crop_fractions(source, spec)
    track = follow(samples, spec.start_s, spec.end_s, crop_w, crop_h, camera)
    seen = sum(1 for s in samples if s.faces)
    if not track:
        return FocusAnalysis(
            (FocusPoint(spec.start_s, spec.focus_x),), True, len(samples), seen, detect_s
        )
    return FocusAnalysis(track, False, len(samples), seen, detect_s)


class _Pictures:
    """The small pictures shown at ``times``, decoded by a thread a few ahead of the reader.

    Iterating yields one picture per time (the latest decoded frame at or before it),
    calling ``check`` (the cancel poll) at least every 50 ms while it waits; leaving the
    ``with`` stops the thread. A decoding error is raised to the reader.
    """

    AHEAD = 8

    def __init__(
        self,
        src_path: str,
        source: SourceInfo,
        times: list[float],
        sample_fps: float,
        check: Callable[[], None],
    ) -> None:
        self._check = check
        self.src_path, self.source, self.times, self.sample_fps = (
            src_path,
            source,
            times,
            sample_fps,
        )
        self._queue: queue.Queue[npt.NDArray[np.uint8] | BaseException | None] = queue.Queue(
            self.AHEAD
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reelay-analysis", daemon=True)

    def __enter__(self) -> _Pictures:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get_nowait()
            self._thread.join(0.05)

    def __iter__(self) -> Iterator[npt.NDArray[np.uint8]]:
        while True:
            self._check()
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _put(self, item: npt.NDArray[np.uint8] | BaseException | None) -> bool:
        """Hand ``item`` over unless the reader left; False once it has."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            with ffmpeg_errors("analysing faces"):
                self._decode()
            self._put(None)
        except BaseException as exc:  # handed to the reader, who raises it
            self._put(exc)

    def _decode(self) -> None:
        times, total, origin_source = self.times, len(self.times), self.source
        sent = 0
        with open_input(self.src_path) as container:
            video = container.streams.video[0]
            video.thread_type = "AUTO"
            # Pictures nothing else refers to (B-frames, mostly) are not decoded: about half
            # the work, while the gaps stay far under a sample's interval (checked below).
            video.codec_context.skip_frame = "NONREF"
            # Nor deblocked: the detector sees the picture shrunk to a ninth with area
            # averaging, which smooths block edges anyway; a third less decoding work.
            video.codec_context.options = {"skip_loop_filter": "all"}
            origin = timeline_origin(container)
            if times[0] > _PREROLL_S and video.time_base is not None:
                target = times[0] - _PREROLL_S + origin
                container.seek(int(target / video.time_base), stream=video, backward=True)
            previous: av.VideoFrame | None = None
            last_t: float | None = None
            for frame in decoded_frames(container, video, av.VideoFrame, CancelPoller(None)):
                if self._stop.is_set() or frame.time is None:
                    if self._stop.is_set():
                        return
                    continue
                t = frame.time - origin
                if last_t is not None and t - last_t > 1 / self.sample_fps:
                    video.codec_context.skip_frame = "DEFAULT"  # a source of long B-runs
                last_t = t
                while sent < total and times[sent] < t - 1e-6:
                    shown = previous if previous is not None else frame
                    if not self._put(_small_picture(shown, origin_source)):
                        return
                    sent += 1
                if sent >= total:
                    return
                previous = frame
            while previous is not None and sent < total:
                if not self._put(_small_picture(previous, origin_source)):
                    return
                sent += 1


def _small_picture(frame: av.VideoFrame, source: SourceInfo) -> npt.NDArray[np.uint8]:
    """``frame`` as upright RGB with ``ANALYSIS_SHORT_SIDE`` on its short display side."""
    scale = ANALYSIS_SHORT_SIDE / min(source.width, source.height)
    disp_w, disp_h = max(2, round(source.width * scale)), max(2, round(source.height * scale))
    turned = source.rotation in (90, 270)
    coded_w, coded_h = (disp_h, disp_w) if turned else (disp_w, disp_h)
    picture = np.asarray(
        frame.to_ndarray(width=coded_w, height=coded_h, format="rgb24", interpolation="AREA"),
        dtype=np.uint8,
    )
    if source.rotation == 90:
        picture = np.rot90(picture, k=-1)
    elif source.rotation == 270:
        picture = np.rot90(picture, k=1)
    elif source.rotation == 180:
        picture = picture[::-1, ::-1]
    return np.ascontiguousarray(picture)
