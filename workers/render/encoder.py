"""H.264 encoding on its own thread, so reframing the next frame overlaps encoding this one
(PyAV releases the GIL inside FFmpeg calls, like the ffmpeg CLI's per-stage threads)."""

from __future__ import annotations

import queue
import threading
from fractions import Fraction

import av
import av.container
import av.video.stream

from .spec import RenderPlan, RenderSpec

#: Frames waiting for the encoder; enough to ride out jitter, small enough to bound memory.
QUEUE_FRAMES = 8


def add_encoder(
    output: av.container.OutputContainer, plan: RenderPlan, spec: RenderSpec
) -> av.video.stream.VideoStream:
    """libx264, yuv420p, the plan's size and constant rate, the spec's preset/crf, auto threads."""
    rate = Fraction(plan.fps_num, plan.fps_den)
    stream = output.add_stream("libx264", rate=rate)
    stream.width = plan.width
    stream.height = plan.height
    stream.pix_fmt = "yuv420p"
    stream.codec_context.time_base = 1 / rate
    stream.thread_type = "AUTO"
    stream.options = {"preset": spec.preset, "crf": str(spec.crf)}
    return stream


class EncoderThread:
    """Encode and mux ``(picture, pts)`` pairs in order on a background thread.

    The same picture may be submitted several times (repeated frames); its pts is set just
    before each encode. An encoder failure is re-raised in the submitting thread.
    """

    def __init__(
        self, output: av.container.OutputContainer, stream: av.video.stream.VideoStream
    ) -> None:
        self._output = output
        self._stream = stream
        self._queue: queue.Queue[tuple[av.VideoFrame, int] | None] = queue.Queue(QUEUE_FRAMES)
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="reelay-encode", daemon=True)
        self._thread.start()

    def submit(self, picture: av.VideoFrame, pts: int) -> None:
        self._raise_if_failed()
        while not self._put((picture, pts)):
            self._raise_if_failed()

    def finish(self) -> None:
        """Flush the encoder and wait for every packet to be muxed."""
        while not self._put(None):
            self._raise_if_failed()
        self._thread.join()
        self._raise_if_failed()

    def abort(self) -> None:
        """Stop without flushing (cancel or error); safe to call after ``finish``."""
        self._stop.set()
        self._thread.join()

    def _put(self, item: tuple[av.VideoFrame, int] | None) -> bool:
        try:
            self._queue.put(item, timeout=0.05)
        except queue.Full:
            return False
        return True

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _work(self) -> None:
        time_base = self._stream.codec_context.time_base
        try:
            while not self._stop.is_set():
                try:
                    item = self._queue.get(timeout=0.05)
                except queue.Empty:
                    continue
                if item is None:
                    self._output.mux(self._stream.encode(None))
                    return
                picture, pts = item
                picture.pts = pts
                picture.time_base = time_base
                self._output.mux(self._stream.encode(picture))
        except Exception as exc:  # any failure is re-raised in the submitting thread
            self._error = exc
            self._stop.set()
