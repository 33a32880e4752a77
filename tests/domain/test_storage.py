"""Both storage backends through the same protocol; S3 against a real moto server."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import aioboto3
import httpx
import pytest

from server.adapters.storage import (
    InvalidKey,
    LocalStorage,
    S3Storage,
    Storage,
    StorageConfigError,
    UploadTooLarge,
    storage_from_settings,
)
from server.adapters.storage.s3 import PART_BYTES, content_disposition
from tests.conftest import SettingsFactory

MIB = 1024 * 1024


async def chunked(data: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def make_bucket(endpoint: str) -> str:
    bucket = f"reelay-{secrets.token_hex(4)}"
    async with aioboto3.Session().client(
        "s3", endpoint_url=endpoint, region_name="us-east-1"
    ) as s3:
        await s3.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
async def s3_storage(moto_server: str) -> AsyncIterator[S3Storage]:
    storage = S3Storage(await make_bucket(moto_server), prefix="media", endpoint_url=moto_server)
    yield storage
    await storage.close()


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    # Sync on purpose: getfixturevalue cannot start an async fixture from a running loop.
    if request.param == "local":
        return LocalStorage(tmp_path / "media")
    s3: S3Storage = request.getfixturevalue("s3_storage")
    return s3


async def test_save_stream_then_read_back(storage: Storage, tmp_path: Path) -> None:
    data = os.urandom(3 * MIB + 17)
    assert await storage.save_stream("projects/prj_a/source", chunked(data)) == len(data)
    assert await storage.exists("projects/prj_a/source")
    assert await storage.size("projects/prj_a/source") == len(data)
    target = tmp_path / "out" / "source.mp4"
    await storage.get_file("projects/prj_a/source", target)
    assert target.read_bytes() == data
    assert [p.name for p in target.parent.iterdir()] == ["source.mp4"]  # no temp left


async def test_put_file_get_file_delete(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"\x00mp4" * 1000)
    await storage.put_file("exports/exp_1/clip.mp4", source)
    assert await storage.size("exports/exp_1/clip.mp4") == 4000
    await storage.delete("exports/exp_1/clip.mp4")
    assert not await storage.exists("exports/exp_1/clip.mp4")
    await storage.delete("exports/exp_1/clip.mp4")  # missing is fine


async def test_missing_keys(storage: Storage, tmp_path: Path) -> None:
    assert not await storage.exists("projects/none/source")
    with pytest.raises(FileNotFoundError):
        await storage.size("projects/none/source")
    with pytest.raises(FileNotFoundError):
        await storage.get_file("projects/none/source", tmp_path / "x")
    assert not (tmp_path / "x").exists()


async def test_delete_prefix_removes_only_matching_keys(storage: Storage) -> None:
    for key in ["p/prj_a/source", "p/prj_a/chunks/0", "p/prj_a/chunks/1", "p/prj_ab/source"]:
        await storage.save_stream(key, chunked(b"x"))
    await storage.delete_prefix("p/prj_a/")
    assert not await storage.exists("p/prj_a/source")
    assert not await storage.exists("p/prj_a/chunks/1")
    assert await storage.exists("p/prj_ab/source")
    await storage.delete_prefix("p/prj_a")  # S3 semantics: also p/prj_ab
    assert not await storage.exists("p/prj_ab/source")
    await storage.delete_prefix("p/nothing/")


async def test_too_large_upload_leaves_nothing(storage: Storage) -> None:
    with pytest.raises(UploadTooLarge) as caught:
        await storage.save_stream("p/big", chunked(os.urandom(MIB + 1)), max_bytes=MIB)
    assert caught.value.limit_bytes == MIB
    assert not await storage.exists("p/big")
    assert await storage.save_stream("p/exact", chunked(b"y" * MIB), max_bytes=MIB) == MIB


@pytest.mark.parametrize("key", ["", "../etc/passwd", "/abs", "a//b", "a/./b", "a/../b", ".tmp/x"])
async def test_rejects_unsafe_keys(storage: Storage, key: str) -> None:
    with pytest.raises(InvalidKey):
        await storage.exists(key)


async def test_local_paths_and_no_presigned_urls(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    await storage.save_stream("exports/exp_1/out.mp4", chunked(b"video"))
    path = storage.local_path("exports/exp_1/out.mp4")
    assert path == (tmp_path / "media" / "exports/exp_1/out.mp4").resolve()
    assert path.read_bytes() == b"video"
    assert await storage.presigned_url("exports/exp_1/out.mp4", expires_s=60) is None


async def test_local_partial_upload_is_never_visible(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")

    async def failing() -> AsyncIterator[bytes]:
        yield b"half"
        assert not await storage.exists("p/source")  # still in .tmp, not at the key
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await storage.save_stream("p/source", failing())
    assert not await storage.exists("p/source")
    assert list((tmp_path / "media").iterdir()) == []  # no partial file, no empty .tmp


async def test_s3_multipart_upload_of_a_large_stream(s3_storage: S3Storage, tmp_path: Path) -> None:
    data = os.urandom(2 * PART_BYTES + 123)
    assert await s3_storage.save_stream("p/large", chunked(data, MIB)) == len(data)
    client = await s3_storage._s3()
    head = await client.head_object(Bucket=s3_storage.bucket, Key="media/p/large")
    assert head["ETag"].strip('"').endswith("-3")  # three multipart parts
    await s3_storage.get_file("p/large", tmp_path / "large")
    assert (tmp_path / "large").read_bytes() == data


async def test_s3_too_large_multipart_is_aborted(s3_storage: S3Storage) -> None:
    with pytest.raises(UploadTooLarge):
        await s3_storage.save_stream(
            "p/huge", chunked(os.urandom(2 * PART_BYTES), MIB), max_bytes=PART_BYTES + MIB
        )
    assert not await s3_storage.exists("p/huge")
    client = await s3_storage._s3()
    uploads = await client.list_multipart_uploads(Bucket=s3_storage.bucket)
    assert uploads.get("Uploads", []) == []


async def test_s3_put_file_uses_multipart_for_big_files(
    s3_storage: S3Storage, tmp_path: Path
) -> None:
    source = tmp_path / "big.mp4"
    source.write_bytes(os.urandom(PART_BYTES + MIB))
    await s3_storage.put_file("exports/exp_1/out.mp4", source)
    client = await s3_storage._s3()
    head = await client.head_object(Bucket=s3_storage.bucket, Key="media/exports/exp_1/out.mp4")
    assert head["ETag"].strip('"').endswith("-2")
    assert head["ContentLength"] == PART_BYTES + MIB


async def test_s3_presigned_url_serves_the_bytes(s3_storage: S3Storage) -> None:
    await s3_storage.save_stream("exports/exp_1/out.mp4", chunked(b"mp4 bytes"))
    url = await s3_storage.presigned_url(
        "exports/exp_1/out.mp4", expires_s=60, filename="Talk – part 1.mp4"
    )
    assert url is not None
    assert s3_storage.local_path("exports/exp_1/out.mp4") is None
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == b"mp4 bytes"
    assert response.headers["content-disposition"] == content_disposition("Talk – part 1.mp4")


def test_content_disposition_has_ascii_fallback_and_utf8_name() -> None:
    assert content_disposition('a "b" – c.mp4') == (
        "attachment; filename=\"a _b_ _ c.mp4\"; filename*=UTF-8''a%20%22b%22%20%E2%80%93%20c.mp4"
    )


async def test_factory_builds_each_backend(settings: SettingsFactory, tmp_path: Path) -> None:
    default = storage_from_settings(settings())
    assert isinstance(default, LocalStorage)
    assert default.root == (tmp_path / "data" / "media").resolve()
    explicit = storage_from_settings(settings(storage_url=str(tmp_path / "elsewhere")))
    assert isinstance(explicit, LocalStorage)
    assert explicit.root == tmp_path / "elsewhere"
    s3 = storage_from_settings(
        settings(storage_url="s3://bucket/some/prefix", s3_endpoint_url="http://127.0.0.1:1")
    )
    assert isinstance(s3, S3Storage)
    assert (s3.bucket, s3.prefix, s3.endpoint_url) == (
        "bucket",
        "some/prefix",
        "http://127.0.0.1:1",
    )
    assert s3.object_key("a/b") == "some/prefix/a/b"
    with pytest.raises(StorageConfigError):
        storage_from_settings(settings(storage_url="gs://bucket"))
