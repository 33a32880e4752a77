"""Fixtures shared by the real-time and browser tests (imported by both conftests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio

from server.adapters.auth import issue_token
from server.domain.events import EventLog
from tests.conftest import RedisServer
from tests.media import make_video
from tests.realtime.servers import JWT_SECRET


def token(user: str, ttl_s: int = 3600, now: float | None = None) -> str:
    return issue_token(JWT_SECRET, user, ttl_s=ttl_s, now=now)


@pytest.fixture(scope="session")
def tiny_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(
        tmp_path_factory.mktemp("rt-media") / "tiny.mp4", duration_s=1.0, width=64, height=48
    )


def create_project(base_url: str, user: str, video: Path) -> str:
    """A project owned by ``user``, uploaded over HTTP like a user would."""
    with video.open("rb") as handle:
        response = httpx.post(
            f"{base_url}/api/projects",
            headers={"Authorization": f"Bearer {token(user)}"},
            files={"file": ("tiny.mp4", handle, "video/mp4")},
            timeout=30,
        )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
async def log(redis_server: RedisServer) -> AsyncIterator[EventLog]:
    """The real event log on the suite's Redis: what workers append through."""
    redis_server.start()
    client = redis.asyncio.Redis.from_url(redis_server.url)
    yield EventLog(client, maxlen=10_000, max_age_s=3600)
    await client.aclose()
