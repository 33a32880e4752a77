"""The web application: ``create_app(settings)`` builds it; nothing happens at import.

The lifespan opens the database, Redis (events, cancel signals), storage and the Dramatiq
broker once per process, puts them on ``app.state.services`` (the real-time hub on
``app.state.hub``), and closes them on shutdown.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import redis.asyncio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from server.adapters.auth import TokenVerifier
from server.adapters.db import close_db, init_db
from server.adapters.queue import Enqueuer, make_broker
from server.adapters.storage import storage_from_settings
from server.api import (
    batches,
    captions,
    exports,
    health,
    media,
    moments,
    projects,
    videos,
    webhooks,
)
from server.api.openapi import openapi
from server.domain.event_epochs import seq_base
from server.domain.events import event_log_from_settings
from server.http.bearer_auth import BearerAuthMiddleware
from server.http.edge_text import TextGuardMiddleware
from server.http.error_handlers import EXCEPTION_HANDLERS
from server.http.routing import group
from server.http.security_headers import SecurityHeadersMiddleware
from server.http.services import Services
from server.ops.logging_redaction import install as install_log_redaction
from server.ops.logs import RequestIdMiddleware
from server.ops.metrics import Metrics, MetricsMiddleware, SharedStateCollector, metrics_endpoint
from server.realtime import events_route
from server.realtime.hub import Hub
from server.realtime.ws import websocket_endpoint
from server.settings import Settings, SettingsError, load_settings

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def api_routes() -> list[BaseRoute]:
    """Every route under ``/api``, each module contributing its own."""
    return [
        *group(
            [
                *projects.routes,
                *moments.routes,
                *captions.routes,
                *exports.routes,
                *videos.routes,
                *media.routes,
                *batches.routes,
                *events_route.routes,
                *webhooks.routes,
            ]
        )
    ]


def _routes(static_dir: Path, metrics: Metrics) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        *group(health.routes),
        *group(media.signed_routes),
        Route("/metrics", metrics_endpoint(metrics), methods=["GET"], include_in_schema=False),
        Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False),
        Mount(
            "/api",
            routes=api_routes(),
            middleware=[Middleware(TextGuardMiddleware), Middleware(BearerAuthMiddleware)],
        ),
        WebSocketRoute("/ws", websocket_endpoint),
    ]
    # Served even before the page exists: the real-time client (reelay-client.js) lives here.
    if static_dir.is_dir():
        routes.append(Mount("/", app=StaticFiles(directory=static_dir, html=True), name="static"))
    return routes


class _App(Starlette):
    """Starlette with security headers outside even its error middleware, so 500s get them."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeadersMiddleware(super().build_middleware_stack())


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    assert settings.redis_url is not None  # checked by create_app
    storage = storage_from_settings(settings)
    await init_db(settings)
    client = redis.asyncio.Redis.from_url(settings.redis_url)
    broker = make_broker(
        settings.redis_url, heartbeat_timeout_s=settings.broker_heartbeat_timeout_s
    )
    svc = Services(
        settings=settings,
        redis=client,
        events=event_log_from_settings(client, settings, seq_base=seq_base),
        storage=storage,
        broker=broker,
        enqueuer=Enqueuer(broker),
        verifier=TokenVerifier(settings),
    )
    app.state.services = svc
    app.state.hub = hub = Hub(settings.redis_url)
    await hub.start()
    try:
        yield
    finally:
        await hub.stop()
        await storage.close()
        broker.close()
        await client.aclose()
        await close_db()


def create_app(settings: Settings | None = None, *, static_dir: Path = STATIC_DIR) -> Starlette:
    """The Starlette app for ``settings`` (default: read from ``REELAY_*`` variables).

    Raises SettingsError when no Redis URL is configured: the web process needs one.
    """
    settings = settings or load_settings()
    if not settings.redis_url:
        raise SettingsError(
            "REELAY_REDIS_URL is required for `reelay web` (use `reelay dev` for an embedded one)"
        )
    metrics = Metrics()
    metrics.register(SharedStateCollector(settings.redis_url))
    middleware = [Middleware(RequestIdMiddleware), Middleware(MetricsMiddleware, metrics=metrics)]
    if settings.allowed_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.allowed_origins),
                allow_methods=["GET", "POST", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            )
        )
    install_log_redaction()
    app = _App(
        routes=_routes(static_dir, metrics),
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    return app
