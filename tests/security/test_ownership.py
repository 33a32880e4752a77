"""The ownership walk: every route in the app's routing table, tried as another user and
without a token. A new route fails here until it checks ownership (or is declared public),
and a new path parameter fails until this file knows how to give alice such an object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from server.domain import models
from server.http.routing import ApiPath, ApiRoute, Operation
from tests.api.conftest import Api, Media
from tests.api.helpers import exports, moment, project

#: Reachable without a token, on purpose: (method, path) as declared in the routing table.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    # Token-less by design: a player fetches them with a signature over path and expiry
    # instead (refusals of missing, changed, moved and expired ones: tests/api/test_media.py).
    ("GET", "/media/exports/{export_id}/preview.m3u8"),
    ("GET", "/media/exports/{export_id}/preview/{segment}"),
    ("GET", "/media/exports/{export_id}/poster.jpg"),
    ("GET", "/media/exports/{export_id}/video.mp4"),
}
#: Mounts serving the page's files (no user data): path prefix → reason.
STATIC_MOUNTS = {"": "the page (static files)"}
#: WebSocket routes authenticate inside the socket (first message) and check ownership per
#: subscription with close code 4003; their own tests cover that (tests of server/realtime).
WEBSOCKETS = {"/ws"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str


def walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[Endpoint | str]:
    """Every HTTP (method, path) of the routing table, looking inside mounts; WebSocket
    routes and static mounts are yielded as their path string."""
    for route in routes:
        if isinstance(route, ApiPath):
            for method in route.declared:
                yield Endpoint(method, prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield Endpoint(method, prefix + route.path)
        elif isinstance(route, WebSocketRoute):
            yield prefix + route.path
        elif isinstance(route, Mount):
            if route.routes:
                yield from walk(list(route.routes), prefix + route.path)
            else:
                yield prefix + route.path
        else:
            raise AssertionError(f"unknown route type {type(route).__name__} at {prefix}")


MakeId = Callable[[Api, dict[str, str]], Awaitable[str]]


async def _webhook_endpoint(api: Api, ids: dict[str, str]) -> str:
    endpoint = await models.WebhookEndpoint.create(  # type: ignore[attr-defined]
        id=models.new_id("whe"),
        user_id="alice",
        url="http://127.0.0.1:9/hook",
        events=["export.completed"],
        secret="whsec_" + "a" * 32,
    )
    return str(endpoint.id)


async def _webhook_delivery(api: Api, ids: dict[str, str]) -> str:
    delivery = await models.WebhookDelivery.create(  # type: ignore[attr-defined]
        id=models.new_id("whd"),
        user_id="alice",
        endpoint_id=ids["webhook_id"],
        event_id="evt_walk",
        event_type="export.completed",
        payload="{}",
    )
    return str(delivery.id)


#: Path parameter → how alice gets an object of that kind (after the ones before it).
PARAMETERS: dict[str, MakeId | None] = {
    "project_id": None,  # made by the ``alices`` fixture through the API
    "moment_id": None,
    "export_id": None,
    "batch_id": None,
    "webhook_id": _webhook_endpoint,
    "endpoint_id": _webhook_endpoint,
    "delivery_id": _webhook_delivery,
    "segment": None,  # a file name (0000.ts), only on signed /media routes
}


def parameters(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]


def fill(path: str, ids: dict[str, str]) -> str:
    for name in parameters(path):
        path = path.replace("{" + name + "}", ids[name]).replace("{" + name + ":str}", ids[name])
    return path


@pytest.fixture
async def alices(api: Api, media: Media) -> dict[str, str]:
    """One object of every kind a route can name, all alice's."""
    source = await project(api.alice, media.video)
    mom = await moment(api.alice, source["id"])
    batch = await exports(api.alice, source["id"], [mom["id"]])
    ids = {
        "project_id": source["id"],
        "moment_id": mom["id"],
        "export_id": batch["exports"][0]["id"],
        "batch_id": batch["batch_id"],
        "segment": "0000.ts",
    }
    endpoints = [e for e in walk(list(api.app.routes)) if isinstance(e, Endpoint)]
    needed = {name for e in endpoints for name in parameters(e.path)}
    unknown = needed - set(PARAMETERS)
    assert not unknown, (
        f"routes take {sorted(unknown)}: teach tests/security/test_ownership.py PARAMETERS "
        "how to give alice such an object, so the walk can try it as bob"
    )
    if "webhook_id" in needed or "delivery_id" in needed:
        ids["webhook_id"] = await _webhook_endpoint(api, ids)
        ids["endpoint_id"] = ids["webhook_id"]
    if "delivery_id" in needed:
        ids["delivery_id"] = await _webhook_delivery(api, ids)
    return ids


async def test_every_route_is_someone_elses_404_or_public(api: Api, alices: dict[str, str]) -> None:
    tried = await assert_every_route_guarded(api, alices)
    assert tried >= 13  # projects, moments, exports, videos, batches, events at least
    await _alices_objects_are_intact(api, alices)


async def test_the_walk_catches_a_route_without_an_ownership_check(
    api: Api, alices: dict[str, str]
) -> None:
    async def leaky(request: Request) -> Response:
        found = await models.Project.get(id=request.path_params["project_id"])
        return JSONResponse({"name": found.name})

    mount = next(r for r in api.app.routes if isinstance(r, Mount) and r.path == "/api")
    leak = ApiPath("/leaky/{project_id}", [ApiRoute("/leaky/{project_id}", leaky, "GET", OP)])
    mount.routes.append(leak)
    try:
        with pytest.raises(AssertionError, match="bob got 200"):
            await assert_every_route_guarded(api, alices)
    finally:
        mount.routes.remove(leak)


OP = Operation("test only", 200)


async def assert_every_route_guarded(api: Api, alices: dict[str, str]) -> int:
    """Walk the routing table; returns how many object routes were tried as bob."""
    walked = list(walk(list(api.app.routes)))
    tried = 0
    for entry in walked:
        if isinstance(entry, str):
            assert entry in WEBSOCKETS or entry in STATIC_MOUNTS, (
                f"{entry!r} is a WebSocket route or mount nobody declared safe"
            )
            continue
        if (entry.method, entry.path) in PUBLIC:
            continue
        assert entry.path.startswith("/api/"), (
            f"{entry.method} {entry.path} is outside /api (no auth middleware) and not PUBLIC"
        )
        path = fill(entry.path, alices)
        for headers in ({}, {"Accept": "text/event-stream"}):
            response = await api.anon.request(entry.method, path, json={}, headers=headers)
            assert response.status_code == 401, f"{entry.method} {path} without a token"
        if not parameters(entry.path):
            continue  # a collection or a create: checked below for leaks instead
        for headers in ({}, {"Accept": "text/event-stream"}):
            response = await api.bob.request(entry.method, path, json={}, headers=headers)
            assert response.status_code in (403, 404), (
                f"bob got {response.status_code} from alice's {entry.method} {path}: "
                f"{response.text[:200]}"
            )
            assert response.json()["error"]["code"] in ("not_found", "forbidden")
        tried += 1
    return tried


async def test_collections_show_bob_nothing_of_alices(api: Api, alices: dict[str, str]) -> None:
    for entry in walk(list(api.app.routes)):
        if not isinstance(entry, Endpoint) or entry.method != "GET":
            continue
        if parameters(entry.path) or (entry.method, entry.path) in PUBLIC:
            continue
        response = await api.bob.get(entry.path)
        assert response.status_code == 200, f"GET {entry.path}: {response.text[:200]}"
        for value in alices.values():
            assert value not in response.text, f"GET {entry.path} shows bob alice's {value}"


async def _alices_objects_are_intact(api: Api, ids: dict[str, str]) -> None:
    assert (await api.alice.get(f"/api/projects/{ids['project_id']}")).status_code == 200
    export = (await api.alice.get(f"/api/exports/{ids['export_id']}")).json()
    assert export["status"] == "queued"
    moments = (await api.alice.get(f"/api/projects/{ids['project_id']}/moments")).json()
    assert [m["id"] for m in moments["moments"]] == [ids["moment_id"]]


def test_the_walk_sees_inside_mounts() -> None:
    inner = Mount("/api", routes=[Route("/things/{thing_id}", lambda r: None, methods=["GET"])])
    assert list(walk([inner])) == [Endpoint("GET", "/api/things/{thing_id}")]
