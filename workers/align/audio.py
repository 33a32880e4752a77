"""A moment's sound as 16 kHz mono 16-bit PCM, the aligner's input."""

from __future__ import annotations

import av
import av.audio.resampler
import numpy as np
import numpy.typing as npt

from workers.render._av import open_input

SAMPLE_RATE = 16_000


def load_speech(path: str, start_s: float, end_s: float) -> npt.NDArray[np.int16]:
    """Samples of ``path``'s first audio stream from ``start_s`` to ``end_s`` (source time),
    downmixed and resampled by libswresample; empty when there is no audio."""
    with open_input(path) as container:
        if not container.streams.audio:
            return np.zeros(0, dtype=np.int16)
        stream = container.streams.audio[0]
        resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        origin = container.start_time / av.time_base if container.start_time else 0.0
        if start_s > 0 and stream.time_base is not None:
            container.seek(int((start_s + origin) / stream.time_base), stream=stream, backward=True)
        pieces: list[npt.NDArray[np.int16]] = []
        first: float | None = None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            if first is None:
                first = frame.time - origin
            if frame.time - origin > end_s:
                break
            for out in resampler.resample(frame):
                pieces.append(np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1))
        for out in resampler.resample(None):
            pieces.append(np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1))
    if not pieces or first is None:
        return np.zeros(0, dtype=np.int16)
    pcm = np.concatenate(pieces)
    skip = max(0, round((start_s - first) * SAMPLE_RATE))
    pcm = pcm[skip:] if skip < len(pcm) else np.zeros(0, dtype=np.int16)
    if skip == 0 and first > start_s:  # the stream starts late: pad its head with silence
        pcm = np.concatenate([np.zeros(round((first - start_s) * SAMPLE_RATE), np.int16), pcm])
    return pcm[: max(0, round((end_s - start_s) * SAMPLE_RATE))]
