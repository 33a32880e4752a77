"""Operations endpoints: liveness, and readiness of the database, Redis and the broker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Literal

import redis
from starlette.requests import Request
from starlette.responses import Response
from tortoise import connections
from tortoise.exceptions import BaseORMException

from server.http.routing import Routes
from server.http.services import services
from server.http.shapes import Shape, answer

#: A dependency that answers slower than this counts as down.
CHECK_TIMEOUT_S = 2.0

routes = Routes("operations")


class Health(Shape):
    status: str


class Readiness(Shape):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str]
    down: list[str] | None = None


@routes.get("/healthz", "Liveness", 200, Health, auth=False)
async def healthz(request: Request) -> Response:
    """The process is alive and serving; says nothing about its dependencies."""
    return answer(Health(status="ok"))


async def _check(probe: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_S)
    except (TimeoutError, OSError, redis.RedisError, BaseORMException) as exc:
        return f"down: {type(exc).__name__}"
    return "ok"


async def _database() -> None:
    await connections.get("default").execute_query("SELECT 1")


@routes.get(
    "/readyz", "Readiness of database, Redis and broker", 200, Readiness, also=(503,), auth=False
)
async def readyz(request: Request) -> Response:
    """200 when the database, Redis and the broker's Redis all answer; else 503 naming them."""
    svc = services(request)
    database, redis_status, broker = await asyncio.gather(
        _check(_database()),
        _check(svc.redis.ping()),
        _check(asyncio.to_thread(svc.broker.client.ping)),
    )
    checks = {"database": database, "redis": redis_status, "broker": broker}
    down = [name for name, status in checks.items() if status != "ok"]
    if down:
        return answer(Readiness(status="unavailable", checks=checks, down=down), 503)
    return answer(Readiness(status="ok", checks=checks))
