"""What a worker process holds while it runs: settings, DB, Redis, storage, event log.

Dramatiq actors run in plain threads; everything async (Tortoise, redis.asyncio,
aioboto3) lives on ONE event loop thread per process, owned by the runtime, and actors
hop onto it with ``runtime.run(awaitable)``. Render work stays in the actor's own thread.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import dramatiq
from dramatiq.asyncio import EventLoopThread
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware
from redis import Redis as SyncRedis
from redis.asyncio import Redis as AsyncRedis

from server.adapters.db import close_db, init_db
from server.adapters.queue import Enqueuer
from server.adapters.redis_retry import OutageBackoff, async_client, ride_out_outages, sync_client
from server.adapters.storage import Storage, storage_from_settings
from server.domain.event_epochs import seq_base
from server.domain.events import EventLog, event_log_from_settings
from server.settings import Settings

T = TypeVar("T")
logger = logging.getLogger("reelay.worker")


@dataclass
class WorkerRuntime:
    """The connections one worker process shares between its actor threads."""

    settings: Settings
    storage: Storage
    events: EventLog
    redis: AsyncRedis
    sync_redis: SyncRedis
    enqueuer: Enqueuer
    loop_thread: EventLoopThread

    def run(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` on the process's event loop thread and return its result."""

        async def wait() -> T:
            return await awaitable

        return self.loop_thread.run_coroutine(wait())


_runtime: WorkerRuntime | None = None


def current_runtime() -> WorkerRuntime:
    """The runtime of this worker process; actors call it, never build their own."""
    if _runtime is None:
        raise RuntimeError("no worker runtime: the RuntimeMiddleware has not booted")
    return _runtime


def _redis_url(settings: Settings) -> str:
    if not settings.redis_url:
        raise RuntimeError("REELAY_REDIS_URL is not set; workers need the broker's Redis")
    return settings.redis_url


class RuntimeMiddleware(Middleware):
    """Opens the runtime before the worker takes its first message; closes it after the last.

    Every Redis client it opens (and the broker's) waits out a Redis outage of up to
    ``REELAY_WORKER_REDIS_RETRY_S`` (server.adapters.redis_retry), so an export in flight pauses
    and resumes instead of failing its step. ``before_worker_boot`` runs before any
    consumer thread starts and
    ``after_worker_shutdown`` after every worker thread has stopped, so no message ever
    sees a half-open or already-closed runtime (Dramatiq's ``after_worker_boot`` runs
    while messages are already being processed).
    """

    def __init__(self, settings: Settings, broker: dramatiq.Broker) -> None:
        self.settings = settings
        self.broker = broker

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        global _runtime
        url = _redis_url(self.settings)
        backoff = OutageBackoff(budget_s=self.settings.worker_redis_retry_s)
        if isinstance(broker, RedisBroker):
            ride_out_outages(broker.client, backoff)  # the consumers and every enqueue
        loop_thread = EventLoopThread(logger)
        loop_thread.start(timeout=5.0)
        client = async_client(url, backoff)
        runtime = WorkerRuntime(
            settings=self.settings,
            storage=storage_from_settings(self.settings),
            events=event_log_from_settings(client, self.settings, seq_base=seq_base),
            redis=client,
            sync_redis=sync_client(url, backoff),
            enqueuer=Enqueuer(self.broker),
            loop_thread=loop_thread,
        )
        runtime.run(init_db(self.settings, apply_migrations=True))
        _runtime = runtime
        logger.info("worker runtime ready (pid %s)", os.getpid())

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        global _runtime
        runtime, _runtime = _runtime, None
        if runtime is None:
            return
        runtime.run(_close(runtime))
        runtime.sync_redis.close()
        runtime.loop_thread.stop()
        runtime.loop_thread.join()


async def _close(runtime: WorkerRuntime) -> None:
    await runtime.storage.close()
    await runtime.redis.aclose()
    await close_db()
