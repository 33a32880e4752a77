"""Every limit in settings, each hit once with the status docs/api.md promises, and nothing
written when it is hit."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.domain.models import Batch, Export, Moment, Project
from tests.api.conftest import Api, Media
from tests.api.helpers import assert_error, exports, moment, project, upload


def stored_files(api: Api) -> list[Path]:
    root = api.settings.data_dir / "media"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    boundary_head = (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        b"Content-Type: video/mp4\r\n\r\n"
    )
    yield boundary_head
    sent = 0
    while sent < total:
        yield b"\0" * size
        sent += size
    yield b"\r\n--b0undary--\r\n"


@pytest.mark.settings(max_upload_mb=1)
async def test_upload_size_is_counted_not_trusted(api: Api, tmp_path: Path) -> None:
    # No Content-Length at all: the limit must hold on the bytes actually read.
    response = await api.alice.post(
        "/api/projects",
        content=_chunks(3 * 1024 * 1024),
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert_error(response, 413, "upload_too_large")
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(2 * 1024 * 1024))
    assert_error(await upload(api.alice, big), 413, "upload_too_large")
    assert stored_files(api) == []
    assert await Project.all().count() == 0


@pytest.mark.settings(max_source_s=1.0)
async def test_source_duration(api: Api, media: Media) -> None:
    assert_error(await upload(api.alice, media.video), 422, "source_too_long")
    assert stored_files(api) == [] and await Project.all().count() == 0


@pytest.mark.settings(max_source_width=200)
async def test_source_width(api: Api, media: Media) -> None:
    message = assert_error(await upload(api.alice, media.video), 422, "source_too_large")
    assert "320×240" in message
    assert stored_files(api) == [] and await Project.all().count() == 0


@pytest.mark.settings(max_source_height=200)
async def test_source_height(api: Api, media: Media) -> None:
    assert_error(await upload(api.alice, media.video), 422, "source_too_large")


@pytest.mark.settings(max_source_pixels=320 * 240 - 1)
async def test_source_pixels(api: Api, media: Media) -> None:
    assert_error(await upload(api.alice, media.video), 422, "source_too_large")


@pytest.mark.settings(min_source_side=241)
async def test_source_too_small(api: Api, media: Media) -> None:
    assert_error(await upload(api.alice, media.video), 422, "source_too_small")
    assert stored_files(api) == [] and await Project.all().count() == 0


@pytest.mark.settings(max_moment_s=1.0)
async def test_moment_length(api: Api, media: Media) -> None:
    source = await project(api.alice, media.video)
    response = await api.alice.post(
        f"/api/projects/{source['id']}/moments", json={"start_s": 0.0, "end_s": 1.5}
    )
    assert_error(response, 422, "moment_too_long")
    assert await Moment.all().count() == 0


@pytest.mark.settings(max_exports_per_request=1)
async def test_exports_per_request(api: Api, media: Media) -> None:
    source = await project(api.alice, media.video)
    ids = [(await moment(api.alice, source["id"]))["id"] for _ in range(2)]
    response = await api.alice.post(
        f"/api/projects/{source['id']}/exports", json={"moment_ids": ids}
    )
    assert "at most 1" in assert_error(response, 422, "validation_error")
    assert await Export.all().count() == 0


@pytest.mark.settings(max_active_exports_per_user=2)
async def test_active_exports_per_user(api: Api, media: Media) -> None:
    source = await project(api.alice, media.video)
    ids = [(await moment(api.alice, source["id"]))["id"] for _ in range(3)]
    first = await exports(api.alice, source["id"], ids[:2])
    response = await api.alice.post(
        f"/api/projects/{source['id']}/exports", json={"moment_ids": ids[2:]}
    )
    assert_error(response, 429, "too_many_active_exports")
    assert int(response.headers["retry-after"]) > 0
    assert await Export.all().count() == 2 and await Batch.all().count() == 1
    # Another user is not affected by alice's exports.
    theirs = await project(api.bob, media.video)
    await exports(api.bob, theirs["id"], [(await moment(api.bob, theirs["id"]))["id"]])
    # A finished (here: cancelled) export frees its slot; a retry takes one again.
    cancelled = first["exports"][0]["id"]
    assert (await api.alice.post(f"/api/exports/{cancelled}/cancel")).status_code == 202
    await exports(api.alice, source["id"], ids[2:])
    response = await api.alice.post(f"/api/exports/{cancelled}/retry")
    assert_error(response, 429, "too_many_active_exports")
    assert response.headers["retry-after"]


@pytest.mark.settings(max_json_bytes=2000)
async def test_json_body_size(api: Api, media: Media) -> None:
    source = await project(api.alice, media.video)
    path = f"/api/projects/{source['id']}/moments"
    body = {"start_s": 0, "end_s": 1, "title": "x" * 100, "captions": []}
    body["captions"] = [{"start_s": 0, "end_s": 1, "text": "y" * 100} for _ in range(30)]
    assert_error(await api.alice.post(path, json=body), 413, "payload_too_large")

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length to trust
        yield b'{"start_s": 0, "end_s": 1, "title": "'
        for _ in range(100):
            yield b"z" * 100
        yield b'"}'

    response = await api.alice.post(
        path, content=streamed(), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")
    assert await Moment.all().count() == 0


@pytest.mark.settings(max_captions=2, max_caption_chars=5)
async def test_caption_count_and_length(api: Api, media: Media) -> None:
    source = await project(api.alice, media.video)
    path = f"/api/projects/{source['id']}/moments"
    line = {"start_s": 0.5, "end_s": 1.0, "text": "hello"}
    three = {"start_s": 0.0, "end_s": 2.0, "captions": [line, line, line]}
    assert "at most 2" in assert_error(await api.alice.post(path, json=three), 422)
    long = {"start_s": 0.0, "end_s": 2.0, "captions": [{**line, "text": "hello!"}]}
    assert "captions[0].text" in assert_error(await api.alice.post(path, json=long), 422)
    ok = {"start_s": 0.0, "end_s": 2.0, "captions": [line, line]}
    assert (await api.alice.post(path, json=ok)).status_code == 201
    schemas = (await api.anon.get("/openapi.json")).json()["components"]["schemas"]
    assert schemas["MomentCreate"]["properties"]["captions"]["maxItems"] == 2
    assert schemas["CaptionCreate"]["properties"]["text"]["maxLength"] == 5
