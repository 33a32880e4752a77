"""Worker Redis clients wait out a Redis restart, within a bounded time.

The helper under test is ``server.adapters.redis_retry``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.exceptions

from server.adapters.queue import build_message, make_broker
from server.adapters.redis_retry import OutageBackoff, async_client, ride_out_outages, sync_client
from server.domain.events import EventLog
from tests.conftest import RedisServer
from tests.realtime.redis_servers import persistent_redis

pytestmark = pytest.mark.timeout(60)

#: How long each test keeps Redis down: several backoff steps, well inside the budget.
OUTAGE_S = 1.5


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = persistent_redis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def _restart_later(server: RedisServer, after_s: float) -> threading.Thread:
    """Start ``server`` again on its port ``after_s`` from now, from another thread."""

    def start() -> None:
        time.sleep(after_s)
        server.start()

    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    return thread


def test_backoff_doubles_up_to_its_cap_and_fills_the_budget() -> None:
    backoff = OutageBackoff(budget_s=3.0, first_s=0.1, max_s=0.5)
    assert [backoff.delay(n) for n in range(1, 6)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    assert backoff.nominal_retries() == 8  # 0.1+0.2+0.4+0.5×5 = 3.2 ≥ 3.0 > 2.7
    assert OutageBackoff(budget_s=0).nominal_retries() == 0
    with pytest.raises(ValueError):
        OutageBackoff(first_s=0)
    with pytest.raises(ValueError):
        OutageBackoff(budget_s=-1)


def test_a_command_during_a_restart_answers_once_redis_is_back(aof_redis: RedisServer) -> None:
    client = sync_client(aof_redis.url, OutageBackoff(budget_s=20))
    client.set("reelay:test:key", "kept")
    aof_redis.stop()
    restarter = _restart_later(aof_redis, OUTAGE_S)
    started = time.monotonic()
    assert client.get("reelay:test:key") == b"kept"
    assert time.monotonic() - started >= OUTAGE_S * 0.8, "it must have waited for the restart"
    restarter.join()
    client.close()


async def test_event_log_appends_across_a_restart_stay_gap_free(aof_redis: RedisServer) -> None:
    client = async_client(aof_redis.url, OutageBackoff(budget_s=20))
    log = EventLog(client, maxlen=100, max_age_s=3600)
    await log.append("prj_retry", "export.progress", export_id="exp_1")
    aof_redis.stop()
    restarter = _restart_later(aof_redis, OUTAGE_S)
    during = await log.append("prj_retry", "export.progress", export_id="exp_1")
    restarter.join()
    page = await log.read_since("prj_retry", 0)
    assert during.seq == 2
    assert [event.seq for event in page.events] == [1, 2]
    assert not page.reset
    await client.aclose()


def test_the_wait_is_bounded_by_the_budget_even_on_an_open_connection(
    aof_redis: RedisServer,
) -> None:
    budget_s = 1.0
    client = sync_client(aof_redis.url, OutageBackoff(budget_s=budget_s))
    client.ping()  # an open connection: the command fails, then each reconnect does too
    aof_redis.stop()
    started = time.monotonic()
    with pytest.raises(redis.exceptions.ConnectionError):
        client.get("reelay:test:key")
    waited = time.monotonic() - started
    assert budget_s * 0.9 <= waited < budget_s + 1.5, waited
    client.close()


def test_the_dramatiq_broker_enqueues_through_a_restart(aof_redis: RedisServer) -> None:
    broker = make_broker(aof_redis.url)
    ride_out_outages(broker.client, OutageBackoff(budget_s=20))
    broker.client.ping()
    aof_redis.stop()
    restarter = _restart_later(aof_redis, OUTAGE_S)
    broker.enqueue(build_message("plan_export", "exp_retry", 1))
    restarter.join()
    check = redis.Redis.from_url(aof_redis.url)
    assert check.llen("reelay:exports") == 1
    check.close()
    broker.close()
