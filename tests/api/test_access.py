"""Auth on every /api route, ownership that never leaks, and one error shape everywhere."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from server.adapters.auth import issue_token
from server.domain.models import Project
from tests.api.conftest import Api, Media
from tests.api.helpers import assert_error, exports, moment, project


@pytest.fixture
async def owned_by_alice(api: Api, media: Media) -> dict[str, str]:
    source = await project(api.alice, media.video)
    mom = await moment(api.alice, source["id"])
    batch = await exports(api.alice, source["id"], [mom["id"]])
    return {
        "project": source["id"],
        "moment": mom["id"],
        "export": batch["exports"][0]["id"],
        "batch": batch["batch_id"],
    }


def object_routes(ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any] | None]]:
    p, m, e, b = ids["project"], ids["moment"], ids["export"], ids["batch"]
    return [
        ("GET", f"/api/projects/{p}", None),
        ("DELETE", f"/api/projects/{p}", None),
        ("GET", f"/api/projects/{p}/moments", None),
        ("POST", f"/api/projects/{p}/moments", {"start_s": 0, "end_s": 1}),
        ("GET", f"/api/moments/{m}", None),
        ("GET", f"/api/projects/{p}/exports", None),
        ("POST", f"/api/projects/{p}/exports", {"moment_ids": [m]}),
        ("GET", f"/api/exports/{e}", None),
        ("POST", f"/api/exports/{e}/cancel", None),
        ("POST", f"/api/exports/{e}/retry", None),
        ("GET", f"/api/exports/{e}/video", None),
        ("GET", f"/api/batches/{b}", None),
        ("GET", f"/api/projects/{p}/events", None),
    ]


async def test_another_user_gets_404_on_every_object_route(
    api: Api, owned_by_alice: dict[str, str]
) -> None:
    for method, path, body in object_routes(owned_by_alice):
        response = await api.bob.request(method, path, json=body)
        assert_error(response, 404, "not_found")
        missing = path
        for key, value in owned_by_alice.items():
            missing = missing.replace(value, f"{key}_missing")
        # Bob cannot tell "exists, not yours" from "does not exist".
        other = (await api.bob.request(method, missing, json=body)).json()
        message = response.json()["error"]["message"]
        for key, value in owned_by_alice.items():
            message = message.replace(value, f"{key}_missing")
        assert other == {"error": {"code": "not_found", "message": message}}
    assert (await api.bob.get("/api/projects")).json() == {"projects": []}
    assert await Project.filter(id=owned_by_alice["project"]).exists()


async def test_every_api_route_needs_a_token(api: Api, owned_by_alice: dict[str, str]) -> None:
    routes = [*object_routes(owned_by_alice), ("GET", "/api/projects", None)]
    routes.append(("POST", "/api/projects", None))
    expired = issue_token(api.settings.jwt_secret, "alice", ttl_s=-120)
    forged = issue_token("another-secret-" + "y" * 32, "alice", ttl_s=600)
    for headers in (
        {},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {forged}"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer not.a.jwt"},
    ):
        for method, path, body in routes:
            response = await api.anon.request(method, path, json=body, headers=headers)
            assert_error(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == "Bearer"
    assert await Project.filter(id=owned_by_alice["project"]).exists()


async def test_unknown_route_and_wrong_method_are_json(api: Api) -> None:
    assert_error(await api.alice.get("/api/nothing-here"), 404, "not_found")
    assert_error(await api.anon.get("/nothing-here"), 404, "not_found")
    assert_error(await api.alice.get("/api/projects/" + "x" * 300), 404, "not_found")
    response = await api.alice.put("/api/projects")
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    response = await api.alice.post("/api/projects/prj_x")
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "DELETE"}


async def test_unexpected_error_is_500_without_details(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret /etc/reelay/path detail")

    monkeypatch.setattr(Project, "filter", explode)
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=api.alice.headers
    ) as client:
        response = await client.get("/api/projects")
    message = assert_error(response, 500, "internal_error")
    assert "secret" not in response.text and "Traceback" not in response.text
    assert "/" not in message
