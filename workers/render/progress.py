"""Progress with a measured speed and an ETA that follows what the render actually does."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from .spec import Progress

#: Seconds of history the speed is measured over; long enough to smooth, short to follow.
WINDOW_S = 8.0
#: No ETA before this much wall time and this many frames: early rates are mostly start-up.
MIN_ELAPSED_S = 0.5


class ProgressTracker:
    """Feed ``update(frames_done, chunks_done)``; get a Progress whose ``progress`` never
    decreases and whose ``speed`` is output seconds per wall second over the last few seconds.

    Frames already done when the tracker starts (resumed chunks) count toward progress but not
    toward speed.
    """

    def __init__(
        self,
        frames_total: int,
        chunks_total: int,
        fps: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        window_s: float = WINDOW_S,
    ) -> None:
        self.frames_total = max(1, frames_total)
        self.chunks_total = chunks_total
        self.fps = fps
        self._clock = clock
        self._window = window_s
        self._history: deque[tuple[float, int]] = deque()
        self._frames = 0
        self._chunks = 0
        self._progress = 0.0
        self._started: float | None = None

    def update(self, frames_done: int, chunks_done: int) -> Progress:
        now = self._clock()
        frames_done = min(max(frames_done, self._frames), self.frames_total)
        self._frames = frames_done
        self._chunks = max(chunks_done, self._chunks)
        if self._started is None:
            self._started = now
        self._history.append((now, frames_done))
        while len(self._history) > 2 and now - self._history[1][0] >= self._window:
            self._history.popleft()
        self._progress = max(self._progress, frames_done / self.frames_total)
        speed = self._speed()
        remaining = self.frames_total - frames_done
        eta: float | None = None
        if remaining == 0:
            eta = 0.0
        elif speed > 0 and now - self._started >= MIN_ELAPSED_S:
            eta = remaining / self.fps / speed
        return Progress(
            frames_done=frames_done,
            frames_total=self.frames_total,
            chunks_done=self._chunks,
            chunks_total=self.chunks_total,
            speed=speed,
            eta_s=eta,
            progress=self._progress,
        )

    def _speed(self) -> float:
        (t0, f0), (t1, f1) = self._history[0], self._history[-1]
        if t1 <= t0 or f1 <= f0:
            return 0.0
        return (f1 - f0) / self.fps / (t1 - t0)
