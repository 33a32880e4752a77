"""Security headers on every response (page, API, errors) and CORS only when configured."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import redis.asyncio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.http.security_headers import content_security_policy
from tests.api.conftest import Api, running_api
from tests.api.helpers import assert_error
from tests.conftest import SettingsFactory


def assert_secure(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    directives = [part.partition(" ") for part in headers["content-security-policy"].split("; ")]
    csp = {name: value for name, _, value in directives}
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    assert csp["connect-src"].startswith("'self'")


async def test_api_responses_carry_the_headers(api: Api) -> None:
    for response in [
        await api.alice.get("/api/projects"),
        await api.anon.get("/api/projects"),
        await api.alice.get("/api/nothing"),
        await api.anon.get("/healthz"),
        await api.anon.get("/openapi.json"),
    ]:
        assert_secure(response)
    assert (await api.alice.get("/api/projects")).headers["cache-control"] == "no-store"


async def test_the_page_carries_the_headers_and_allows_its_websocket(
    settings: SettingsFactory, db: str, redis_client: redis.asyncio.Redis, tmp_path: Path
) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><script type=module src=app.js></script>")
    async with running_api(settings(), redis_client, static) as api:
        page = await api.anon.get("/", headers={"Host": "reelay.example:8443"})
        assert page.status_code == 200
        assert_secure(page)
        csp = page.headers["content-security-policy"]
        assert "ws://reelay.example:8443" in csp and "wss://reelay.example:8443" in csp
        assert "media-src 'self' blob:" in csp
        evil = await api.anon.get("/", headers={"Host": "x; script-src *"})
        assert "script-src *" not in evil.headers["content-security-policy"]


def test_s3_origin_is_allowed_for_presigned_videos(settings: SettingsFactory) -> None:
    from server.http.security_headers import storage_origins

    s3 = settings(storage_url="s3://bucket/media", s3_endpoint_url="http://127.0.0.1:9000")
    origins = storage_origins(s3)
    assert origins == ("http://127.0.0.1:9000",)
    csp = content_security_policy(origins, None)
    assert "media-src 'self' blob: http://127.0.0.1:9000" in csp
    assert "img-src 'self' data: blob: http://127.0.0.1:9000" in csp  # posters
    assert storage_origins(settings()) == ()


async def test_errors_carry_the_headers_and_no_details(api: Api) -> None:
    async def boom(request: Request) -> Response:
        raise RuntimeError(f"cannot open {api.settings.data_dir}/secret.db: Traceback")

    api.app.router.routes.append(Route("/boom", boom))
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/boom")
    message = assert_error(response, 500, "internal_error")
    assert "/" not in message and "Traceback" not in response.text
    assert str(api.settings.data_dir) not in response.text and "secret" not in response.text
    assert_secure(response)


async def test_no_cors_unless_configured(api: Api) -> None:
    response = await api.anon.options(
        "/api/projects",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers
    plain = await api.alice.get("/api/projects", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in plain.headers


@pytest.mark.settings(allowed_origins=("https://app.example",))
async def test_cors_allows_only_the_configured_origins(api: Api) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    ok = await api.anon.options(
        "/api/projects", headers={"Origin": "https://app.example", **preflight}
    )
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    evil = await api.anon.options(
        "/api/projects", headers={"Origin": "https://evil.example", **preflight}
    )
    assert evil.headers.get("access-control-allow-origin") != "https://evil.example"
    got = await api.alice.get("/api/projects", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in got.headers
