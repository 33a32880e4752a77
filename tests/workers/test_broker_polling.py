"""Idle workers look for new messages at least ten times a second: Dramatiq's consumer
backs off up to the worker timeout (1 s) on an empty queue, which once made every chunk
sent to idle workers wait up to a second before anyone looked."""

from __future__ import annotations

import pytest
from dramatiq.brokers import redis as dramatiq_redis

from server.adapters.queue import IDLE_POLL_MS, build_message, make_broker
from tests.conftest import RedisServer


def test_an_idle_consumer_never_sleeps_longer_than_the_poll_interval(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_server.start()
    broker = make_broker(redis_server.url)
    broker.declare_queue("chunks")
    consumer = broker.consume("chunks", prefetch=1, timeout=1000)  # the Worker's default
    slept: list[float] = []
    monkeypatch.setattr(dramatiq_redis.time, "sleep", slept.append)
    try:
        for _ in range(30):  # long enough an idle spell for the backoff to reach its cap
            assert next(consumer) is None
        assert slept and max(slept) <= IDLE_POLL_MS / 1000, max(slept)
        broker.enqueue(build_message("render_chunk", "exp_x", 1, 0))
        message = next(m for m in (next(consumer) for _ in range(5)) if m is not None)
        assert message.actor_name == "render_chunk"
        consumer.ack(message)
    finally:
        consumer.close()
        broker.client.flushall()
        broker.close()
