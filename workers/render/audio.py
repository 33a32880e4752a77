"""The moment's audio, encoded once as AAC so chunk joins cannot click or gap.

Output is 48 kHz AAC; mono sources stay mono, everything else (stereo, 5.1, …) is stereo.
Samples are placed by timestamp: silence fills a late start or an early end, so the track
lasts exactly the moment.
"""

from __future__ import annotations

from fractions import Fraction

import av
import av.audio.stream
import av.container
import numpy as np
import numpy.typing as npt

from ._av import decoded_frames, ffmpeg_errors, open_input
from .cancel import CancelPoller
from .files import atomic_path
from .probe import timeline_origin
from .spec import CancelCheck, RenderPlan, RenderSpec

SAMPLE_RATE = 48000
BIT_RATE = 128_000
_Samples = npt.NDArray[np.float32]


def render_audio(
    src_path: str,
    spec: RenderSpec,
    plan: RenderPlan,
    out_path: str,
    *,
    should_cancel: CancelCheck | None = None,
) -> str | None:
    """Encode [start_s, end_s) of the first audio stream to an M4A at ``out_path`` (atomic).

    Returns None, writing nothing, when the source has no audio.
    """
    poller = CancelPoller(should_cancel)
    with open_input(src_path) as container:
        if not container.streams.audio:
            return None
        with ffmpeg_errors("encoding audio"), atomic_path(out_path) as temp:
            stream = container.streams.audio[0]
            layout = "mono" if stream.codec_context.channels == 1 else "stereo"
            with av.open(temp, "w", format="mp4") as output:
                encoder = output.add_stream("aac", rate=SAMPLE_RATE, layout=layout)
                encoder.bit_rate = BIT_RATE
                total = round((spec.end_s - spec.start_s) * SAMPLE_RATE)
                _Cutter(container, stream, output, encoder, layout, spec, total).run(poller)
    return out_path


class _Cutter:
    """Decode → resample to 48 kHz → keep exactly ``total`` samples from ``start_s`` → encode."""

    def __init__(
        self,
        container: av.container.InputContainer,
        stream: av.audio.stream.AudioStream,
        output: av.container.OutputContainer,
        encoder: av.audio.stream.AudioStream,
        layout: str,
        spec: RenderSpec,
        total: int,
    ) -> None:
        self.container = container
        self.stream = stream
        self.output = output
        self.encoder = encoder
        self.layout = layout
        self.channels = 1 if layout == "mono" else 2
        self.start = spec.start_s
        self.total = total
        self.origin = timeline_origin(container)
        self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
        self.pending = np.zeros((self.channels, 0), dtype=np.float32)
        self.written = 0  # samples handed to the encoder so far (output timeline position)
        self.frame_size = encoder.codec_context.frame_size or 1024

    def run(self, poller: CancelPoller) -> None:
        if self.start > 1.0 and self.stream.time_base is not None:
            target = (self.start - 1.0 + self.origin) / self.stream.time_base
            self.container.seek(int(target), stream=self.stream, backward=True)
        # Source time of the next resampled sample: set by the first frame, then advanced by
        # sample counts, so timestamp jitter can never insert clicks or tiny gaps.
        cursor: float | None = None
        for frame in decoded_frames(self.container, self.stream, av.AudioFrame, poller):
            if cursor is None:
                cursor = (frame.time if frame.time is not None else self.start) - self.origin
            for out in self.resampler.resample(frame):
                cursor = self._take(_samples(out), cursor)
            if self.written + self.pending.shape[1] >= self.total:
                break
        if cursor is not None:
            for out in self.resampler.resample(None):
                cursor = self._take(_samples(out), cursor)
        missing = self.total - self.written - self.pending.shape[1]
        if missing > 0:
            self._queue(np.zeros((self.channels, missing), dtype=np.float32))
        self._flush()

    def _take(self, samples: _Samples, cursor: float) -> float:
        """Queue the part of ``samples`` (starting at source time ``cursor``) inside the moment."""
        count = samples.shape[1]
        position = round((cursor - self.start) * SAMPLE_RATE)  # moment-relative sample index
        queued = self.written + self.pending.shape[1]
        room = self.total - queued
        if room > 0 and position > queued:  # a gap before these samples: fill with silence
            gap = min(position - queued, room)
            self._queue(np.zeros((self.channels, gap), dtype=np.float32))
            queued, room = queued + gap, room - gap
        skip = queued - position
        if room > 0 and skip < count:
            self._queue(np.ascontiguousarray(samples[:, skip : skip + room], dtype=np.float32))
        return cursor + float(count) / SAMPLE_RATE

    def _queue(self, samples: _Samples) -> None:
        self.pending = np.concatenate((self.pending, samples), axis=1)
        while self.pending.shape[1] >= self.frame_size:
            self._encode(self.pending[:, : self.frame_size])
            self.pending = self.pending[:, self.frame_size :]

    def _flush(self) -> None:
        if self.pending.shape[1] > 0:
            self._encode(self.pending)
            self.pending = self.pending[:, :0]
        self.output.mux(self.encoder.encode(None))

    def _encode(self, samples: _Samples) -> None:
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples), format="fltp", layout=self.layout
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self.written
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self.written += samples.shape[1]
        self.output.mux(self.encoder.encode(frame))


def _samples(frame: av.AudioFrame) -> _Samples:
    return np.asarray(frame.to_ndarray(), dtype=np.float32)
