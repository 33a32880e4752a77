"""Prometheus metrics for operators: ``GET /metrics`` on any web process.

Two kinds: this process's own (HTTP latency by route template, status) in a registry the
app owns, and cluster-wide figures read at scrape time from the shared state — exports
by status (database), queue depth (Redis), chunk render time and events published
(counters the workers keep in Redis) — so any one web process can be scraped for all.
``reelay_redis_up`` and ``reelay_database_up`` say whether each answered the scrape; an
outage of either never turns the scrape itself into an error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis import Redis as SyncRedis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tortoise.exceptions import BaseORMException
from tortoise.functions import Count

from server.adapters.queue import ACTOR_QUEUES
from server.adapters.redis_keys import METRICS, broker_delayed_queue, broker_queue
from server.domain.models import Export, ExportStatus, WebhookAttempt

#: A scrape waits at most this long for Redis (connect, then each read) and for the
#: database, so a scrape during an outage answers in seconds instead of hanging.
REDIS_TIMEOUT_S = 1.0
DATABASE_TIMEOUT_S = 3.0


def record_chunk_render(client: SyncRedis, seconds: float) -> None:
    """Workers call this after each chunk; the web process reports the sum and count."""
    pipe = client.pipeline(transaction=False)
    pipe.hincrbyfloat(METRICS, "chunk_render_seconds_sum", seconds)
    pipe.hincrby(METRICS, "chunk_render_seconds_count", 1)
    pipe.execute()


class SharedStateCollector(Collector):
    """Reads cluster-wide figures at scrape time (runs in a thread: blocking I/O is fine).

    During a Redis outage it reports ``reelay_redis_up 0`` and leaves the Redis figures
    out (absent, not zero: nobody knows them) rather than failing the scrape. Every call is
    bounded: a short connect and read timeout, one retry for a connection Redis closed.
    """

    def __init__(self, redis_url: str) -> None:
        self._redis = SyncRedis.from_url(
            redis_url,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            socket_timeout=REDIS_TIMEOUT_S,
            retry=Retry(NoBackoff(), 1),
        )

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: registering must not touch Redis (it is read at scrape time)."""
        return []

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("reelay_redis_up", "1 when Redis answered this scrape, else 0")
        try:
            depths, counters = self._read()
        except (RedisError, OSError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily(
            "reelay_queue_depth", "Messages waiting per Dramatiq queue", labels=["queue"]
        )
        for queue, waiting in depths.items():
            depth.add_metric([queue], waiting)
        yield depth
        render = CounterMetricFamily(
            "reelay_chunk_render_seconds", "Wall time spent rendering chunks"
        )
        render.add_metric([], counters.get("chunk_render_seconds_sum", 0.0))
        yield render
        chunks = CounterMetricFamily("reelay_chunks_rendered", "Chunks rendered")
        chunks.add_metric([], counters.get("chunk_render_seconds_count", 0.0))
        yield chunks
        published = CounterMetricFamily("reelay_events_published", "Events appended to logs")
        published.add_metric([], counters.get("events_published", 0.0))
        yield published

    def _read(self) -> tuple[dict[str, int], dict[str, float]]:
        """Queue depths (waiting + delayed) and the workers' counters, in one round trip."""
        queues = sorted(set(ACTOR_QUEUES.values()))
        pipe = self._redis.pipeline(transaction=False)
        for queue in queues:
            pipe.llen(broker_queue(queue))
            pipe.llen(broker_delayed_queue(queue))
        pipe.hgetall(METRICS)
        *lengths, raw_counters = pipe.execute()
        depths = {
            queue: int(lengths[2 * i]) + int(lengths[2 * i + 1]) for i, queue in enumerate(queues)
        }
        counters = {
            (k.decode() if isinstance(k, bytes) else k): float(v) for k, v in raw_counters.items()
        }
        return depths, counters


class Metrics:
    """The app's registry: HTTP latency, and exports by status refreshed at each scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.exports = Gauge(
            "reelay_exports",
            "Exports by status, across the cluster",
            ["status"],
            registry=self.registry,
        )
        self.sockets = Gauge(
            "reelay_sockets",
            "WebSockets open in this process",
            registry=self.registry,
        )
        self.events_delivered = Gauge(
            "reelay_events_delivered",
            "Live events this process handed to its sockets and SSE streams since start",
            registry=self.registry,
        )
        self.webhook_attempts = Gauge(
            "reelay_webhook_attempts",
            "Webhook delivery attempts recorded, by outcome, across the cluster",
            ["outcome"],
            registry=self.registry,
        )
        self.database_up = Gauge(
            "reelay_database_up",
            "1 when the database answered this scrape, else 0",
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "reelay_http_request_seconds",
            "HTTP request latency by route template",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def register(self, collector: Collector) -> None:
        self.registry.register(collector)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _route_template(scope: Scope) -> str:
    """The matched route's path template, so IDs never explode the label set."""
    app = scope.get("app")
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", []):
        match, child = route.matches(scope)
        if match is Match.FULL:
            path = str(getattr(route, "path", ""))
            nested = getattr(route, "routes", None)
            if nested:
                for inner in nested:
                    inner_match, _ = inner.matches({**scope, **child})
                    if inner_match is Match.FULL:
                        return path + str(getattr(inner, "path", ""))
            return path or "other"
    return "unmatched"


class MetricsMiddleware:
    """Times every HTTP request (pure ASGI, so streaming responses are timed to the end)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        route = _route_template(dict(scope))  # before routing rewrites root_path in scope
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.http_seconds.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )


async def _refresh_database_figures(metrics: Metrics) -> None:
    """Exports by status and webhook attempts by outcome, from the shared database."""
    counts = dict.fromkeys((status.value for status in ExportStatus), 0)
    rows = await Export.annotate(n=Count("id")).group_by("status").values_list("status", "n")
    for status, count in rows:
        counts[str(status)] = int(count)
    for status, count in counts.items():
        metrics.exports.labels(status).set(count)
    for success, outcome in ((True, "success"), (False, "failure")):
        attempts = await WebhookAttempt.filter(success=success).count()
        metrics.webhook_attempts.labels(outcome).set(attempts)


def metrics_endpoint(metrics: Metrics) -> Callable[[Request], Awaitable[Response]]:
    """``GET /metrics``: the Prometheus text format, rendered off the event loop.

    Always 200 while the process lives: a database or Redis that does not answer shows as
    ``reelay_database_up``/``reelay_redis_up`` 0, and the figures read from it keep their
    last values (database) or are left out (Redis) — an outage is when operators scrape.
    """

    async def endpoint(request: Request) -> Response:
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT_S):
                await _refresh_database_figures(metrics)
            metrics.database_up.set(1)
        except (BaseORMException, OSError, TimeoutError):
            metrics.database_up.set(0)
        hub = getattr(request.app.state, "hub", None)
        if hub is not None:
            metrics.sockets.set(sum(hub.local_sockets.values()))
            metrics.events_delivered.set(hub.delivered)
        body = await asyncio.to_thread(metrics.render)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return endpoint
