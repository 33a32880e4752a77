"""Uploading sources: streamed, probed, bounded, and nothing left behind on any rejection."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from server.domain.models import Project
from tests.api.conftest import Api, Media
from tests.api.helpers import assert_error, project, upload


def stored_files(api: Api) -> list[Path]:
    root = api.settings.data_dir / "media"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def assert_nothing_left(api: Api) -> None:
    assert await Project.all().count() == 0
    assert stored_files(api) == []


async def test_upload_probes_and_stores_the_video(api: Api, media: Media) -> None:
    response = await upload(api.alice, media.video, name="My clip")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "name",
        "duration_s",
        "width",
        "height",
        "fps",
        "has_audio",
        "size_bytes",
        "created_at",
    }
    assert body["name"] == "My clip"
    assert (body["width"], body["height"]) == (320, 240)
    assert body["duration_s"] == pytest.approx(3.0, abs=0.1)
    assert body["fps"] == pytest.approx(30.0)
    assert body["has_audio"] is True
    assert body["size_bytes"] == media.video.stat().st_size
    assert body["created_at"].endswith("Z")
    row = await Project.get(id=body["id"])
    assert row.user_id == "alice"
    files = stored_files(api)
    assert len(files) == 1 and files[0].read_bytes() == media.video.read_bytes()


async def test_upload_without_name_uses_the_file_name(api: Api, media: Media) -> None:
    body = await project(api.alice, media.silent_video)
    assert body["name"] == "silent"
    assert body["has_audio"] is False


@pytest.mark.parametrize("kind", ["garbage", "empty", "audio_only"])
async def test_not_a_video_is_415_and_leaves_nothing(api: Api, media: Media, kind: str) -> None:
    response = await upload(api.alice, getattr(media, kind))
    message = assert_error(response, 415, "not_a_video")
    assert "/" not in message  # never a server path
    await assert_nothing_left(api)


async def test_still_image_is_415(api: Api, tmp_path: Path) -> None:
    image = tmp_path / "still.png"
    Image.new("RGB", (64, 48)).save(image)
    assert_error(await upload(api.alice, image), 415, "not_a_video")
    await assert_nothing_left(api)


@pytest.mark.settings(max_upload_mb=1)
async def test_upload_over_the_limit_is_413_and_leaves_nothing(api: Api, tmp_path: Path) -> None:
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (2 * 1024 * 1024))

    async def body() -> object:
        boundary = "reelayboundary"
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        for _ in range(32):
            yield b"\0" * (64 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    # Streamed without Content-Length: the limit must hold while reading.
    response = await api.alice.post(
        "/api/projects",
        content=body(),  # type: ignore[arg-type]
        headers={"Content-Type": "multipart/form-data; boundary=reelayboundary"},
    )
    assert_error(response, 413, "upload_too_large")
    await assert_nothing_left(api)
    response = await upload(api.alice, big)  # and with an honest Content-Length
    assert_error(response, 413, "upload_too_large")
    await assert_nothing_left(api)


@pytest.mark.settings(max_source_s=1.0)
async def test_source_longer_than_the_limit_is_422(api: Api, media: Media) -> None:
    response = await upload(api.alice, media.video)
    assert_error(response, 422, "source_too_long")
    await assert_nothing_left(api)


async def test_upload_needs_a_file_part(api: Api) -> None:
    response = await api.alice.post("/api/projects", data={"name": "x"}, files={"other": b"x"})
    assert_error(response, 422, "validation_error")
    response = await api.alice.post("/api/projects", json={"name": "x"})
    assert_error(response, 415, "unsupported_media_type")
    await assert_nothing_left(api)


async def test_malformed_multipart_is_400(api: Api) -> None:
    response = await api.alice.post(
        "/api/projects",
        content=b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert_error(response, 400, "invalid_upload")
    await assert_nothing_left(api)


async def test_list_get_and_delete(api: Api, media: Media) -> None:
    first = await project(api.alice, media.video)
    second = await project(api.alice, media.silent_video)
    listed = (await api.alice.get("/api/projects")).json()["projects"]
    assert [p["id"] for p in listed] == [second["id"], first["id"]]
    assert (await api.alice.get(f"/api/projects/{first['id']}")).json() == first
    response = await api.alice.delete(f"/api/projects/{first['id']}")
    assert response.status_code == 204
    assert_error(await api.alice.get(f"/api/projects/{first['id']}"), 404, "not_found")
    assert [p["id"] for p in (await api.alice.get("/api/projects")).json()["projects"]] == [
        second["id"]
    ]
    assert len(stored_files(api)) == 1


async def test_delete_removes_moments_exports_and_files(api: Api, media: Media) -> None:
    body = await project(api.alice, media.video)
    moment = (
        await api.alice.post(f"/api/projects/{body['id']}/moments", json={"start_s": 0, "end_s": 1})
    ).json()
    await api.alice.post(f"/api/projects/{body['id']}/exports", json={"moment_ids": [moment["id"]]})
    assert (await api.alice.delete(f"/api/projects/{body['id']}")).status_code == 204
    assert_error(await api.alice.get(f"/api/moments/{moment['id']}"), 404)
    assert (await api.alice.get("/api/projects")).json() == {"projects": []}
    await assert_nothing_left(api)
