"""Polling a caller's cancel check cheaply: at most every ``interval_s`` of wall time."""

from __future__ import annotations

import time
from collections.abc import Callable

from .errors import RenderCancelled
from .spec import CancelCheck

POLL_INTERVAL_S = 0.1


class CancelPoller:
    """Call ``check()`` as often as you like; the user's check runs at most every 0.1 s."""

    def __init__(
        self,
        should_cancel: CancelCheck | None,
        *,
        interval_s: float = POLL_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._should_cancel = should_cancel
        self._interval = interval_s
        self._clock = clock
        self._next = clock()

    def check(self) -> None:
        """Raise RenderCancelled if the user's check (when due) says stop."""
        if self._should_cancel is None:
            return
        now = self._clock()
        if now < self._next:
            return
        self._next = now + self._interval
        if self._should_cancel():
            raise RenderCancelled("the render was cancelled")
