"""A worker runtime on the suite's real Redis and database, and an export to act upon."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import dramatiq
import redis
import redis.asyncio
from redis import Redis as SyncRedis

from server.adapters.queue import Enqueuer, make_broker
from server.adapters.storage import storage_from_settings
from server.domain.events import EventLog
from server.domain.models import Batch, Export, ExportStatus, Moment, Project
from tests.conftest import RedisServer, SettingsFactory
from workers.broker import setup_broker
from workers.runtime import WorkerRuntime, current_runtime


async def stalled_export(status: ExportStatus = ExportStatus.RUNNING) -> Export:
    project = await Project.create(
        id="prj_w", user_id="u", name="p", source_key="projects/prj_w/source", duration_s=10,
        width=320, height=240, fps=30, has_audio=True, size_bytes=1,
    )  # fmt: skip
    moment = await Moment.create(id="mom_w", user_id="u", project=project, start_s=0, end_s=5)
    batch = await Batch.create(id="bat_w", user_id="u", project=project)
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    return await Export.create(
        id="exp_w", user_id="u", project=project, moment=moment, batch=batch,
        aspect_ratio="9:16", resolution="720p", status=status, started_at=long_ago,
        heartbeat_at=long_ago, progress=0.2,
    )  # fmt: skip


def runtime_for(settings: SettingsFactory, client: redis.asyncio.Redis) -> WorkerRuntime:
    config = settings(stall_after_s=60.0, sweep_interval_s=1.0, max_stall_resumes=2)
    assert config.redis_url is not None
    return WorkerRuntime(
        settings=config,
        storage=storage_from_settings(config),
        events=EventLog(client, maxlen=100, max_age_s=3600),
        redis=client,
        sync_redis=SyncRedis.from_url(config.redis_url),
        enqueuer=Enqueuer(make_broker(config.redis_url)),
        loop_thread=cast(Any, None),  # sweep_once is awaited directly here
    )


def running_worker(
    redis_server: RedisServer, settings: SettingsFactory, **overrides: Any
) -> Iterator[WorkerRuntime]:
    """A render worker in this process (two threads) booted on an emptied Redis, with
    ``settings(**overrides)``; yields its runtime (for fixtures: ``yield from``)."""
    redis_server.start()
    flush = redis.Redis.from_url(redis_server.url)
    flush.flushall()
    flush.close()
    broker = setup_broker(settings(**overrides))
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        yield current_runtime()
    finally:
        worker.stop()
        broker.close()
