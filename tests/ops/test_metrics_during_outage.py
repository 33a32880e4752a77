"""/metrics answers during a Redis outage: what it can, and a gauge saying Redis is down."""

from __future__ import annotations

import time

import pytest

from tests.api.conftest import Api
from tests.conftest import RedisServer

pytestmark = pytest.mark.timeout(60)


def _samples(text: str) -> dict[str, float]:
    """``name{labels}`` → value for every sample line of a Prometheus text page."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


async def test_metrics_answer_with_redis_down_and_say_so(
    api: Api, redis_server: RedisServer
) -> None:
    await api.anon.get("/healthz")
    before = _samples((await api.anon.get("/metrics")).text)
    assert before["reelay_redis_up"] == 1
    assert before["reelay_database_up"] == 1
    assert 'reelay_queue_depth{queue="exports"}' in before

    redis_server.stop()
    try:
        started = time.monotonic()
        response = await api.anon.get("/metrics")
        took = time.monotonic() - started
        ready = await api.anon.get("/readyz")
    finally:
        redis_server.start()

    assert response.status_code == 200, response.text
    assert took < 5, f"a scrape during an outage must not hang ({took:.1f} s)"
    during = _samples(response.text)
    assert during["reelay_redis_up"] == 0
    assert during["reelay_database_up"] == 1
    assert during['reelay_exports{status="queued"}'] == 0  # database figures still there
    route = 'method="GET",route="/healthz",status="200"'
    assert during[f"reelay_http_request_seconds_count{{{route}}}"] == 1
    assert not any(name.startswith("reelay_queue_depth") for name in during), (
        "figures nobody can read are left out, not reported as zero"
    )
    assert ready.status_code == 503, "requests that need Redis still say it is down"

    after = _samples((await api.anon.get("/metrics")).text)
    assert after["reelay_redis_up"] == 1
    assert 'reelay_queue_depth{queue="exports"}' in after
