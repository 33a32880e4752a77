"""The stalled-export sweeper: the safety net under every other recovery path.

Dramatiq redelivers a dead worker's messages, but a message can still vanish (Redis
restarted without persistence, a queue flushed). Every worker process runs this sweeper;
a Redis lock lets one of them work per interval. An active export whose heartbeat is
older than ``stall_after_s`` is planned again — planning is idempotent and only queues
the pieces not yet stored — and after ``max_stall_resumes`` sweeps without progress it
fails with the code ``stalled`` instead of hanging for ever.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import dramatiq
from dramatiq.middleware import Middleware
from redis.exceptions import RedisError
from tortoise.exceptions import BaseORMException

from server.adapters import redis_keys
from server.clock import utcnow
from server.domain import export_lifecycle as lifecycle
from server.domain.models import Export, ExportStatus
from workers.runtime import WorkerRuntime, current_runtime

logger = logging.getLogger("reelay.watchdog")

SWEEP_LOCK = redis_keys.SWEEPER_LOCK


async def sweep_once(rt: WorkerRuntime) -> list[str]:
    """Resume, cancel or fail every stalled export; returns the IDs acted upon."""
    settings = rt.settings
    lock_ms = max(1, int(settings.sweep_interval_s * 1000 * 0.9))
    if not await rt.redis.set(SWEEP_LOCK, 1, px=lock_ms, nx=True):
        return []
    cutoff = utcnow() - timedelta(seconds=settings.stall_after_s)
    running = await Export.filter(
        status__in=[ExportStatus.RUNNING, ExportStatus.CANCELLING], heartbeat_at__lt=cutoff
    )
    never_started = await Export.filter(
        status=ExportStatus.QUEUED, started_at__isnull=True, created_at__lt=cutoff
    )
    acted: list[str] = []
    for export in [*running, *never_started]:
        await _handle(rt, export)
        acted.append(export.id)
    return acted


async def _handle(rt: WorkerRuntime, export: Export) -> None:
    if export.status == ExportStatus.CANCELLING:
        await lifecycle.cancel(rt, export)
        return
    key = redis_keys.stall_count(export.id)
    seen = await rt.redis.hgetall(key)
    last_progress = float(seen.get(b"progress", -1.0))
    count = int(seen.get(b"count", 0)) + 1 if export.progress <= last_progress else 1
    await rt.redis.hset(key, mapping={"progress": export.progress, "count": count})
    await rt.redis.expire(key, 7 * 24 * 3600)
    if count > rt.settings.max_stall_resumes:
        await lifecycle.fail(
            rt, export, "stalled", "the export stopped making progress; retry it to start again"
        )
        return
    logger.warning(
        "export %s made no progress for %.0f s; planning it again (resume %d of %d)",
        export.id,
        rt.settings.stall_after_s,
        count,
        rt.settings.max_stall_resumes,
    )
    await lifecycle.resume_stalled(rt, export)


class SweeperMiddleware(Middleware):
    """Runs a ``Sweeper`` beside each worker process's actor threads."""

    def __init__(self) -> None:
        self.sweeper: Sweeper | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.sweeper = Sweeper(current_runtime())
        self.sweeper.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self.sweeper is not None:
            self.sweeper.stop()
            self.sweeper.join(timeout=5)
            self.sweeper = None


class Sweeper(threading.Thread):
    """A daemon thread that calls ``sweep_once`` every ``sweep_interval_s`` until stopped."""

    def __init__(self, rt: WorkerRuntime) -> None:
        super().__init__(name="reelay-sweeper", daemon=True)
        self.rt = rt
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.rt.settings.sweep_interval_s):
            try:
                self.rt.run(sweep_once(self.rt))
            except (RedisError, BaseORMException, OSError):
                logger.exception(
                    "sweep failed; trying again in %.0f s", self.rt.settings.sweep_interval_s
                )

    def stop(self) -> None:
        self.stopped.set()
