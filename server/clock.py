"""The one time source of the service: wall time in UTC, Unix seconds, and a monotonic clock.

Every stamp written to the database or an event and every "how old is this" comes from
here, so a test can reason about time in one place; code that takes a ``clock`` argument
defaults to these functions. Durations measured with ``time.perf_counter`` and the render
engine's own timing (``workers.render`` is a leaf library) are not clocks in this sense.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

#: A wall clock that answers an aware datetime in UTC (``utcnow`` or a test's fake).
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Now, timezone-aware in UTC: what rows and events are stamped with."""
    return datetime.now(UTC)


def now_s() -> float:
    """Now as Unix seconds: for token times and deadlines that travel between processes."""
    return time.time()


def monotonic() -> float:
    """Seconds on a clock that never goes back: for intervals inside one process."""
    return time.monotonic()
