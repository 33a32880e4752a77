"""The finished MP4: whole, byte ranges (206), unsatisfiable ranges (416), not ready (409)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.domain.models import Export, ExportStatus
from tests.api.conftest import Api, Media
from tests.api.helpers import assert_error, exports, moment, project


@pytest.fixture
async def completed(api: Api, media: Media, tmp_path: Path) -> dict[str, Any]:
    """A completed export whose MP4 (1000 known bytes) sits in storage."""
    source = await project(api.alice, media.video)
    mom = await moment(api.alice, source["id"])
    export = (await exports(api.alice, source["id"], [mom["id"]]))["exports"][0]
    payload = bytes(range(256)) * 3 + bytes(232)
    file = tmp_path / "out.mp4"
    file.write_bytes(payload)
    key = f"exports/{export['id']}/video.mp4"
    await api.app.state.services.storage.put_file(key, file)
    await Export.filter(id=export["id"]).update(
        status=ExportStatus.COMPLETED, video_key=key, size_bytes=len(payload), progress=1.0
    )
    return {"id": export["id"], "payload": payload}


async def test_completed_export_has_a_video_url(api: Api, completed: dict[str, Any]) -> None:
    body = (await api.alice.get(f"/api/exports/{completed['id']}")).json()
    assert body["video_url"] == f"/api/exports/{completed['id']}/video"


async def test_whole_file(api: Api, completed: dict[str, Any]) -> None:
    response = await api.alice.get(f"/api/exports/{completed['id']}/video")
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == "1000"
    assert response.content == completed["payload"]


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=900-", 900, 999),
        ("bytes=-10", 990, 999),
        ("bytes=990-5000", 990, 999),
    ],
)
async def test_range_is_206(
    api: Api, completed: dict[str, Any], header: str, first: int, last: int
) -> None:
    response = await api.alice.get(
        f"/api/exports/{completed['id']}/video", headers={"Range": header}
    )
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {first}-{last}/1000"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.headers["content-type"] == "video/mp4"
    assert response.content == completed["payload"][first : last + 1]


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
async def test_unsatisfiable_range_is_416(api: Api, completed: dict[str, Any], header: str) -> None:
    response = await api.alice.get(
        f"/api/exports/{completed['id']}/video", headers={"Range": header}
    )
    assert_error(response, 416, "range_not_satisfiable")
    assert response.headers["content-range"] == "bytes */1000"


@pytest.mark.parametrize("header", ["items=0-5", "bytes=5-2", "bytes=0-1,5-6", "nonsense"])
async def test_unusable_range_sends_the_whole_file(
    api: Api, completed: dict[str, Any], header: str
) -> None:
    response = await api.alice.get(
        f"/api/exports/{completed['id']}/video", headers={"Range": header}
    )
    assert response.status_code == 200
    assert response.content == completed["payload"]


async def test_video_of_unfinished_export_is_409(api: Api, media: Media) -> None:
    source = await project(api.alice, media.video)
    mom = await moment(api.alice, source["id"])
    export = (await exports(api.alice, source["id"], [mom["id"]]))["exports"][0]
    assert export["video_url"] is None
    response = await api.alice.get(f"/api/exports/{export['id']}/video")
    assert_error(response, 409, "export_not_completed")


async def test_missing_file_is_404(api: Api, completed: dict[str, Any]) -> None:
    await api.app.state.services.storage.delete(f"exports/{completed['id']}/video.mp4")
    assert_error(await api.alice.get(f"/api/exports/{completed['id']}/video"), 404)
