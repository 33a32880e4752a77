"""Riding out a short Redis outage: one bounded backoff for every worker Redis client.

A worker mid-export talks to Redis all the time (the broker, event log appends, progress,
chunk leases, cancel flags, the sweeper). When Redis restarts — ``reelay dev`` brings its
embedded one back within a second or two, a managed Redis fails over in seconds — failing
those calls would turn a blip into failed steps that wait for the stall sweeper. Instead
each worker client retries connection errors (refused, reset, ``LOADING`` while Redis
replays its append-only file) with exponential backoff for a bounded time, so a render
pauses and carries on the moment Redis answers again; past the budget the error surfaces
as before. The web process does not use this: a request during an outage answers 503 at
once, and the client retries.

The budget is wall time since the outage was first seen on a connection, not a count:
redis-py retries the connect inside the retried command with the same policy, and a count
would multiply across the two (30 s could become 30 s × 30).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio
import redis.asyncio.retry
import redis.retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")

#: Connecting to a Redis that is down is refused at once on one machine; across a network
#: a silent host would otherwise hang each attempt for the OS's connect timeout.
CONNECT_TIMEOUT_S = 2.0
#: A command that gets no answer this long counts as a broken connection (and is retried).
COMMAND_TIMEOUT_S = 10.0

#: The errors of an outage: refused, reset or unanswered connections (and ``LOADING``).
OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError)

FailHandler = Callable[[Exception], Any] | Callable[[Exception, int], Any]
AsyncFailHandler = (
    Callable[[Exception], Awaitable[Any]] | Callable[[Exception, int], Awaitable[Any]]
)


@dataclass(frozen=True)
class OutageBackoff:
    """Wait ``first_s``, doubling up to ``max_s`` between attempts, for ``budget_s`` in all.

    Deterministic (no jitter): a handful of worker processes reconnecting together is no
    herd, and a fixed schedule keeps the budget exact.
    """

    budget_s: float = 30.0
    first_s: float = 0.05
    max_s: float = 1.0

    def __post_init__(self) -> None:
        if self.budget_s < 0 or self.first_s <= 0 or self.max_s < self.first_s:
            raise ValueError(f"invalid backoff {self}")

    def delay(self, failures: int) -> float:
        """The sleep after the ``failures``-th failure in a row (1-based)."""
        doublings = min(max(failures - 1, 0), 32)
        return min(self.max_s, self.first_s * float(2**doublings))

    def nominal_retries(self) -> int:
        """How many retries fit in the budget (redis-py reports it; the clock decides)."""
        total, failures = 0.0, 0
        while total < self.budget_s:
            failures += 1
            total += self.delay(failures)
        return failures


class _OutageClock:
    """When the current outage was first seen on one connection; cleared by any success.

    Once the budget is spent, further failures surface at once until Redis answers again,
    so calls nested in one another (connect inside command) share one budget.
    """

    def __init__(self, backoff: OutageBackoff) -> None:
        self.backoff = backoff
        self.since: float | None = None

    def next_delay(self, failures: int) -> float | None:
        """Seconds to wait before the next attempt, or None when the budget is spent."""
        now = time.monotonic()
        if self.since is None:
            self.since = now
        remaining = self.since + self.backoff.budget_s - now
        if remaining <= 0:
            return None
        return min(self.backoff.delay(failures), remaining)

    def recovered(self) -> None:
        self.since = None


def _report(fail: FailHandler, error: Exception, failures: int, with_count: bool) -> Any:
    """Call redis-py's failure handler (it drops the broken connection) as it expects."""
    if with_count:
        return fail(error, failures)  # type: ignore[call-arg]
    return fail(error)  # type: ignore[call-arg]


class OutageRetry(redis.retry.Retry):
    """redis-py's ``Retry`` for blocking clients, bounded by ``OutageBackoff.budget_s``."""

    def __init__(self, backoff: OutageBackoff) -> None:
        super().__init__(NoBackoff(), backoff.nominal_retries(), OUTAGE_ERRORS)
        self._clock = _OutageClock(backoff)

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: FailHandler,
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        failures = 0
        while True:
            try:
                result = do()
            except self._supported_errors as error:
                if is_retryable is not None and not is_retryable(error):
                    raise
                failures += 1
                _report(fail, error, failures, with_failure_count)
                delay = self._clock.next_delay(failures)
                if delay is None:
                    raise
                time.sleep(delay)
            else:
                self._clock.recovered()
                return result


class AsyncOutageRetry(redis.asyncio.retry.Retry):
    """redis-py's ``Retry`` for asyncio clients, bounded by ``OutageBackoff.budget_s``."""

    def __init__(self, backoff: OutageBackoff) -> None:
        super().__init__(NoBackoff(), backoff.nominal_retries(), OUTAGE_ERRORS)
        self._clock = _OutageClock(backoff)

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: AsyncFailHandler,
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        failures = 0
        while True:
            try:
                result = await do()
            except self._supported_errors as error:
                if is_retryable is not None and not is_retryable(error):
                    raise
                failures += 1
                await _report(fail, error, failures, with_failure_count)
                delay = self._clock.next_delay(failures)
                if delay is None:
                    raise
                await asyncio.sleep(delay)
            else:
                self._clock.recovered()
                return result


def sync_client(url: str, backoff: OutageBackoff) -> redis.Redis:
    """A blocking client on ``url`` that waits out outages up to ``backoff.budget_s``."""
    return redis.Redis.from_url(
        url,
        retry=OutageRetry(backoff),
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=COMMAND_TIMEOUT_S,
    )


def async_client(url: str, backoff: OutageBackoff) -> redis.asyncio.Redis:
    """An asyncio client on ``url`` that waits out outages up to ``backoff.budget_s``."""
    return redis.asyncio.Redis.from_url(
        url,
        retry=AsyncOutageRetry(backoff),
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=COMMAND_TIMEOUT_S,
    )


def ride_out_outages(client: redis.Redis, backoff: OutageBackoff) -> None:
    """Give a client built elsewhere (Dramatiq's broker builds its own) the same retries.

    Its timeouts stay as they were: Dramatiq's consumer turns a ConnectionError into a
    reconnect, but takes a TimeoutError for a bug and can lose its delayed messages.
    """
    client.set_retry(OutageRetry(backoff))
