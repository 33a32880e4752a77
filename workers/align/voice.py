"""An energy voice detector, and words spread over the voiced time it finds — the timing
of last resort (no acoustic model for the language, or the aligner found no path)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FRAME_S = 0.02
#: Gaps shorter than this inside speech are bridged; voiced runs shorter than MIN_VOICED_S
#: are dropped as clicks.
BRIDGE_S = 0.25
MIN_VOICED_S = 0.08


def voiced_spans(pcm: npt.NDArray[np.int16], rate: int) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of the stretches louder than the noise floor."""
    hop = max(1, round(rate * FRAME_S))
    count = len(pcm) // hop
    if count == 0:
        return []
    frames = pcm[: count * hop].astype(np.float64).reshape(count, hop)
    energy = 10 * np.log10(np.mean(frames**2, axis=1) + 1.0)
    floor = float(np.percentile(energy, 10))
    peak = float(np.percentile(energy, 99))
    if peak - floor < 10:  # nothing stands out of the noise: silence, or noise alone
        return []
    threshold = max(floor + 0.25 * (peak - floor), floor + 6)
    loud = energy > threshold
    spans: list[tuple[float, float]] = []
    start: int | None = None
    for i, on in enumerate([*loud, False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            spans.append((start * FRAME_S, i * FRAME_S))
            start = None
    merged: list[tuple[float, float]] = []
    for span in spans:
        if merged and span[0] - merged[-1][1] < BRIDGE_S:
            merged[-1] = (merged[-1][0], span[1])
        else:
            merged.append(span)
    return [s for s in merged if s[1] - s[0] >= MIN_VOICED_S]


def spread(words: Sequence[str], spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Each word a share of the voiced time proportional to its length (plus one for the
    gap after it), laid out in order across the spans."""
    total = sum(end - start for start, end in spans)
    weights = [len(w) + 1 for w in words]
    scale = total / max(1, sum(weights))
    bounds = [0.0]
    for weight in weights:
        bounds.append(bounds[-1] + weight * scale)

    def at(voiced: float) -> float:
        for start, end in spans:
            if voiced <= end - start:
                return start + voiced
            voiced -= end - start
        return spans[-1][1]

    return [(at(bounds[i]), at(bounds[i + 1] - scale * 0.5)) for i in range(len(words))]
