"""Leftovers: no empty folders after refused uploads or deleted projects; If-Range per RFC
9110 (a validator that does not match → the whole file, 200); echoed input is capped."""

from __future__ import annotations

import os
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from server.domain.models import Export, ExportChunk, ExportStatus
from server.errors import MAX_ECHO_CHARS
from tests.api.conftest import Api, Media
from tests.api.helpers import assert_error, exports, moment, project, upload
from tests.media import make_garbage


def stored_paths(api: Api) -> list[Path]:
    """Everything under the local storage root (the root itself excluded)."""
    root: Path = api.app.state.services.storage.root
    return sorted(root.rglob("*")) if root.exists() else []


async def test_a_refused_upload_leaves_no_file_and_no_folder(api: Api, media: Media) -> None:
    assert_error(await upload(api.alice, media.garbage), 415, "not_a_video")
    assert_error(await upload(api.alice, media.audio_only), 415)
    assert stored_paths(api) == []
    assert api.app.state.services.storage.root.is_dir()  # the root itself stays


@pytest.mark.settings(max_upload_mb=1)
async def test_an_upload_over_the_limit_leaves_no_file_and_no_folder(
    api: Api, tmp_path: Path
) -> None:
    big = make_garbage(tmp_path / "big.mp4", size=2 * 1024 * 1024)
    assert_error(await upload(api.alice, big), 413, "upload_too_large")
    assert stored_paths(api) == []


async def test_a_deleted_project_leaves_no_file_and_no_folder(
    api: Api, media: Media, tmp_path: Path
) -> None:
    kept = await project(api.bob, media.video)  # someone else's files stay untouched
    source = await project(api.alice, media.video)
    mark = await moment(api.alice, source["id"])
    export_id = (await exports(api.alice, source["id"], [mark["id"]]))["exports"][0]["id"]
    piece = tmp_path / "piece.mp4"
    piece.write_bytes(b"\0" * 64)
    storage = api.app.state.services.storage
    video_key = f"exports/{export_id}/video.mp4"
    chunk_key = f"exports/{export_id}/chunks/0000.mp4"
    await storage.put_file(video_key, piece)
    await storage.put_file(chunk_key, piece)
    await ExportChunk.create(export_id=export_id, index=0, first_frame=0, end_frame=1,
                             status="done", storage_key=chunk_key)  # fmt: skip
    await Export.filter(id=export_id).update(status=ExportStatus.COMPLETED, video_key=video_key)
    assert (await api.alice.delete(f"/api/projects/{source['id']}")).status_code == 204
    root: Path = storage.root
    left = [p.relative_to(root).as_posix() for p in stored_paths(api)]
    assert left == ["projects", f"projects/{kept['id']}", f"projects/{kept['id']}/source.mp4"]


@pytest.fixture
async def completed(api: Api, media: Media, tmp_path: Path) -> dict[str, Any]:
    """A completed export whose 1000-byte file sits in storage."""
    source = await project(api.alice, media.video)
    mark = await moment(api.alice, source["id"])
    export = (await exports(api.alice, source["id"], [mark["id"]]))["exports"][0]
    payload = bytes(range(250)) * 4
    file = tmp_path / "out.mp4"
    file.write_bytes(payload)
    key = f"exports/{export['id']}/video.mp4"
    await api.app.state.services.storage.put_file(key, file)
    await Export.filter(id=export["id"]).update(
        status=ExportStatus.COMPLETED, video_key=key, size_bytes=len(payload), progress=1.0
    )
    return {"url": f"/api/exports/{export['id']}/video", "payload": payload}


async def test_responses_carry_validators_and_a_matching_if_range_gets_the_range(
    api: Api, completed: dict[str, Any]
) -> None:
    whole = await api.alice.get(completed["url"])
    etag, last_modified = whole.headers["etag"], whole.headers["last-modified"]
    assert etag.startswith('"') and not etag.startswith("W/")
    for validator in (etag, last_modified):
        response = await api.alice.get(
            completed["url"], headers={"Range": "bytes=10-19", "If-Range": validator}
        )
        assert response.status_code == 206, validator
        assert response.content == completed["payload"][10:20]
        assert response.headers["etag"] == etag


@pytest.mark.parametrize(
    "if_range",
    [
        '"not-our-tag"',
        "W/{etag}",  # weak tags never match (strong comparison)
        "Thu, 01 Jan 1970 00:00:00 GMT",  # a date that is not Last-Modified
        "not a date at all",
    ],
)
async def test_an_if_range_that_does_not_match_gets_the_whole_file(
    api: Api, completed: dict[str, Any], if_range: str
) -> None:
    etag = (await api.alice.get(completed["url"])).headers["etag"]
    response = await api.alice.get(
        completed["url"],
        headers={"Range": "bytes=10-19", "If-Range": if_range.format(etag=etag)},
    )
    assert response.status_code == 200
    assert "content-range" not in response.headers
    assert response.content == completed["payload"]


async def test_a_rewritten_file_no_longer_matches_its_old_validators(
    api: Api, completed: dict[str, Any]
) -> None:
    before = (await api.alice.get(completed["url"])).headers
    export_id = completed["url"].split("/")[3]
    path = api.app.state.services.storage.local_path(f"exports/{export_id}/video.mp4")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    for validator in (before["etag"], before["last-modified"]):
        response = await api.alice.get(
            completed["url"], headers={"Range": "bytes=0-9", "If-Range": validator}
        )
        assert response.status_code == 200
    assert formatdate(path.stat().st_mtime, usegmt=True) != before["last-modified"]


async def test_echoed_input_is_capped(api: Api, media: Media, tmp_path: Path) -> None:
    long_id = "prj_" + "x" * 40_000
    message = assert_error(await api.alice.get(f"/api/projects/{long_id}"), 404, "not_found")
    assert len(message) < MAX_ECHO_CHARS + 40 and message.endswith("…")
    long_name = tmp_path / ("n" * 200 + ".mp4")
    long_name.write_bytes(media.garbage.read_bytes())
    message = assert_error(await upload(api.alice, long_name), 415, "not_a_video")
    assert len(message) < MAX_ECHO_CHARS + 60 and "…" in message
    source = await project(api.alice, media.video)
    response = await api.alice.post(
        f"/api/projects/{source['id']}/exports", json={"moment_ids": ["m" * 64]}
    )
    assert len(assert_error(response, 422)) < 200
