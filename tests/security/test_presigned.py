"""Presigned video URLs are short-lived: their lifetime is the setting, capped at an hour."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import redis.asyncio

from server.domain.models import Export, ExportStatus
from server.settings import SettingsError, load_settings
from tests.api.conftest import Api, Media, running_api, s3_settings
from tests.api.helpers import assert_error, exports, moment, project
from tests.conftest import SettingsFactory


@pytest.fixture
async def s3_api(
    settings: SettingsFactory,
    db: str,
    redis_client: redis.asyncio.Redis,
    moto_server: str,
    tmp_path: Path,
) -> AsyncIterator[Api]:
    app_settings = await s3_settings(settings, moto_server, presign_expires_s=60)
    async with running_api(app_settings, redis_client, tmp_path / "no-static") as api:
        yield api


async def test_video_redirect_is_short_lived_and_never_cached(
    s3_api: Api, media: Media, tmp_path: Path
) -> None:
    source = await project(s3_api.alice, media.video)
    mom = await moment(s3_api.alice, source["id"])
    export = (await exports(s3_api.alice, source["id"], [mom["id"]]))["exports"][0]
    file = tmp_path / "out.mp4"
    file.write_bytes(b"mp4 bytes")
    key = f"exports/{export['id']}/video.mp4"
    await s3_api.app.state.services.storage.put_file(key, file)
    await Export.filter(id=export["id"]).update(status=ExportStatus.COMPLETED, video_key=key)
    response = await s3_api.alice.get(f"/api/exports/{export['id']}/video")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    if "X-Amz-Expires" in query:  # SigV4: a lifetime in seconds
        assert query["X-Amz-Expires"] == ["60"]
    else:  # SigV2: an absolute expiry time
        assert 0 < int(query["Expires"][0]) - time.time() <= 61
    assert response.headers["cache-control"] == "no-store"
    assert_error(await s3_api.bob.get(f"/api/exports/{export['id']}/video"), 404, "not_found")


def test_presign_lifetime_is_bounded() -> None:
    assert load_settings({"REELAY_PRESIGN_EXPIRES_S": "3600"}).presign_expires_s == 3600
    for bad in ("0", "-5", "86400"):
        with pytest.raises(SettingsError, match="REELAY_PRESIGN_EXPIRES_S"):
            load_settings({"REELAY_PRESIGN_EXPIRES_S": bad})
