"""An app per test on the real Redis and database fixtures, driven through httpx.

``alice`` and ``bob`` are clients with their own tokens, ``anon`` has none; settings can be
tuned per test with ``@pytest.mark.settings(max_upload_mb=1, ...)``. No worker runs here:
enqueued messages stay in the broker's Redis queue, where tests read them.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aioboto3
import httpx
import pytest
import redis.asyncio
from starlette.applications import Starlette

from server.adapters.auth import issue_token
from server.app import create_app
from server.settings import Settings
from tests.conftest import SettingsFactory
from tests.media import make_audio_only, make_empty, make_garbage, make_video

TOKEN_TTL_S = 600


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "settings(**overrides): Settings overrides for the app")


@dataclass
class Api:
    app: Starlette
    settings: Settings
    alice: httpx.AsyncClient
    bob: httpx.AsyncClient
    anon: httpx.AsyncClient
    redis: redis.asyncio.Redis

    async def queued_messages(self, queue: str = "exports") -> list[dict[str, Any]]:
        """Messages the broker holds for ``queue`` (nobody consumes them in these tests)."""
        raw = await self.redis.hvals(f"reelay:{queue}.msgs")
        return [json.loads(item) for item in raw]


@dataclass(frozen=True)
class Media:
    video: Path
    silent_video: Path
    audio_only: Path
    garbage: Path
    empty: Path


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    """Small real files, generated once per session."""
    root = tmp_path_factory.mktemp("media")
    return Media(
        video=make_video(root / "clip.mp4", duration_s=3.0, width=320, height=240, fps=30),
        silent_video=make_video(root / "silent.mp4", duration_s=2.0, audio_channels=0),
        audio_only=make_audio_only(root / "tone.m4a"),
        garbage=make_garbage(root / "garbage.mp4"),
        empty=make_empty(root / "empty.mp4"),
    )


def _client(app: Starlette, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


@contextlib.asynccontextmanager
async def running_api(
    app_settings: Settings, redis_client: redis.asyncio.Redis, static_dir: Path
) -> AsyncIterator[Api]:
    """The app with its lifespan running, and a client per user."""
    app = create_app(app_settings, static_dir=static_dir)
    async with app.router.lifespan_context(app):
        secret = app_settings.jwt_secret
        alice = _client(app, issue_token(secret, "alice", ttl_s=TOKEN_TTL_S))
        bob = _client(app, issue_token(secret, "bob", ttl_s=TOKEN_TTL_S))
        anon = _client(app, None)
        try:
            yield Api(app, app_settings, alice, bob, anon, redis=redis_client)
        finally:
            for client in (alice, bob, anon):
                await client.aclose()


@pytest.fixture
async def api(
    request: pytest.FixtureRequest,
    settings: SettingsFactory,
    db: str,
    redis_client: redis.asyncio.Redis,
    tmp_path: Path,
) -> AsyncIterator[Api]:
    marker = request.node.get_closest_marker("settings")
    overrides = dict(marker.kwargs) if marker else {}
    async with running_api(settings(**overrides), redis_client, tmp_path / "no-static") as api:
        yield api


async def s3_settings(settings: SettingsFactory, moto_server: str, **overrides: Any) -> Settings:
    """Settings whose storage is a fresh bucket on the suite's moto S3 server."""
    bucket = f"reelay-{secrets.token_hex(4)}"
    async with aioboto3.Session().client(
        "s3", endpoint_url=moto_server, region_name="us-east-1"
    ) as s3:
        await s3.create_bucket(Bucket=bucket)
    return settings(storage_url=f"s3://{bucket}/media", s3_endpoint_url=moto_server, **overrides)


@pytest.fixture
async def s3_api(
    settings: SettingsFactory,
    db: str,
    redis_client: redis.asyncio.Redis,
    moto_server: str,
    tmp_path: Path,
) -> AsyncIterator[Api]:
    """The app on a fresh bucket of the suite's moto S3 server."""
    app_settings = await s3_settings(settings, moto_server)
    async with running_api(app_settings, redis_client, tmp_path / "no-static") as api:
        yield api
