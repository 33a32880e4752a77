"""Health, readiness and the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio
from openapi_spec_validator import validate
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from server.api.openapi import walk
from server.app import create_app
from tests.api.conftest import Api, running_api
from tests.api.helpers import assert_error
from tests.conftest import SettingsFactory


async def test_healthz_and_readyz(api: Api) -> None:
    assert (await api.anon.get("/healthz")).json() == {"status": "ok"}
    response = await api.anon.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "broker": "ok"},
    }


async def test_readyz_names_what_is_down(api: Api) -> None:
    svc = api.app.state.services
    dead = redis.asyncio.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    object.__setattr__(svc, "redis", dead)
    try:
        response = await api.anon.get("/readyz")
    finally:
        await dead.aclose()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["down"] == ["redis"]
    assert body["checks"]["database"] == "ok" and body["checks"]["broker"] == "ok"


async def test_openapi_lists_every_route(api: Api) -> None:
    document = (await api.anon.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    declared = {(path, route.method.lower()) for path, route in walk(api.app.routes)}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == declared
    expected = {
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/api/projects", "post"),
        ("/api/projects", "get"),
        ("/api/projects/{project_id}", "get"),
        ("/api/projects/{project_id}", "delete"),
        ("/api/projects/{project_id}/moments", "post"),
        ("/api/projects/{project_id}/moments", "get"),
        ("/api/moments/{moment_id}", "get"),
        ("/api/moments/{moment_id}/captions", "patch"),
        ("/api/moments/{moment_id}/align", "post"),
        ("/api/captions/parse", "post"),
        ("/api/projects/{project_id}/exports", "post"),
        ("/api/projects/{project_id}/exports", "get"),
        ("/api/exports/{export_id}", "get"),
        ("/api/exports/{export_id}/cancel", "post"),
        ("/api/exports/{export_id}/retry", "post"),
        ("/api/exports/{export_id}/video", "get"),
        ("/api/exports/{export_id}/media", "get"),
        ("/media/exports/{export_id}/preview.m3u8", "get"),
        ("/media/exports/{export_id}/preview/{segment}", "get"),
        ("/media/exports/{export_id}/poster.jpg", "get"),
        ("/media/exports/{export_id}/video.mp4", "get"),
        ("/api/batches/{batch_id}", "get"),
        ("/api/projects/{project_id}/events", "get"),
        ("/api/webhooks", "post"),
        ("/api/webhooks", "get"),
        ("/api/webhooks/{webhook_id}", "get"),
        ("/api/webhooks/{webhook_id}", "patch"),
        ("/api/webhooks/{webhook_id}", "delete"),
        ("/api/webhooks/{webhook_id}/test", "post"),
        ("/api/webhooks/{webhook_id}/deliveries", "get"),
        ("/api/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", "post"),
    }
    assert documented == expected
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["responses"], (path, method)
            if path.startswith("/api/"):
                assert operation["security"] == [{"bearer": []}]
                assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }
    create = document["paths"]["/api/projects/{project_id}/exports"]["post"]
    schema = document["components"]["schemas"]["ExportCreate"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ExportCreate"
    )
    assert schema["properties"]["moment_ids"]["maxItems"] == api.settings.max_exports_per_request
    upload = document["paths"]["/api/projects"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload


async def test_openapi_document_is_valid(api: Api) -> None:
    document = (await api.anon.get("/openapi.json")).json()
    validate(document)


async def test_refs_all_resolve(api: Api) -> None:
    document = (await api.anon.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]

    def refs(node: object) -> set[str]:
        if isinstance(node, dict):
            found = {node["$ref"]} if "$ref" in node else set()
            return found.union(*(refs(v) for v in node.values()))
        if isinstance(node, list):
            return set().union(*(refs(v) for v in node))
        return set()

    for ref in refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


async def test_static_page_is_served_when_present(
    settings: SettingsFactory, db: str, redis_client: redis.asyncio.Redis, tmp_path: Path
) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><title>reelay</title>")
    async with running_api(settings(), redis_client, static) as api:
        page = await api.anon.get("/")
        assert page.status_code == 200 and "<title>reelay</title>" in page.text
        assert (await api.anon.get("/healthz")).json() == {"status": "ok"}
        assert_error(await api.anon.get("/api/projects"), 401, "unauthorized")


def test_create_app_needs_redis(settings: object) -> None:
    import pytest

    from server.settings import SettingsError

    with pytest.raises(SettingsError, match="REELAY_REDIS_URL"):
        create_app(settings(redis_url=None))  # type: ignore[operator]
