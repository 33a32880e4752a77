"""Objects in an S3 bucket (or any S3-compatible store) through one aioboto3 client.

Uploads stream as multipart uploads of ``PART_BYTES`` parts, so memory stays at one part;
downloads go to a temp file beside the target and are renamed into place.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aioboto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from server.adapters.storage.base import BoundedBlocks, validate_key, validate_prefix

#: Multipart part size: S3 needs ≥ 5 MiB for all parts but the last.
PART_BYTES = 8 * 1024 * 1024

TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=PART_BYTES, multipart_chunksize=PART_BYTES, max_concurrency=4
)

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class S3Storage:
    """Keys live under ``prefix`` in ``bucket``; the client opens on first use."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.region = region
        self._session = aioboto3.Session()
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None, region: str) -> S3Storage:
        """From ``s3://bucket[/prefix]``."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"expected s3://bucket[/prefix], got {url!r}")
        return cls(parts.netloc, prefix=parts.path, endpoint_url=endpoint_url, region=region)

    def object_key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def local_path(self, key: str) -> Path | None:
        return None

    async def save_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int | None = None
    ) -> int:
        s3 = await self._s3()
        object_key = self.object_key(key)
        blocks = BoundedBlocks(chunks, PART_BYTES, max_bytes)
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for block in blocks:
                if upload_id is None:
                    created = await s3.create_multipart_upload(Bucket=self.bucket, Key=object_key)
                    upload_id = str(created["UploadId"])
                parts.append(await self._upload_part(object_key, upload_id, parts, block))
            rest = blocks.rest
            if upload_id is None:
                await s3.put_object(Bucket=self.bucket, Key=object_key, Body=rest)
                return blocks.size
            if rest:
                parts.append(await self._upload_part(object_key, upload_id, parts, rest))
            await s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=object_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
            return blocks.size
        except BaseException:
            # Too large, client gone, S3 error or cancelled: leave no parts behind.
            if upload_id is not None:
                await asyncio.shield(self._abort(object_key, upload_id))
            raise

    async def put_file(self, key: str, path: Path) -> None:
        s3 = await self._s3()
        await s3.upload_file(str(path), self.bucket, self.object_key(key), Config=TRANSFER_CONFIG)

    async def get_file(self, key: str, path: Path) -> None:
        """Raises FileNotFoundError when ``key`` is missing."""
        s3 = await self._s3()
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
        try:
            await s3.download_file(
                self.bucket, self.object_key(key), str(temp), Config=TRANSFER_CONFIG
            )
            await asyncio.to_thread(os.replace, temp, path)
        except ClientError as exc:
            temp.unlink(missing_ok=True)
            if _is_not_found(exc):
                raise FileNotFoundError(f"no object for key {key!r}") from exc
            raise
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    async def exists(self, key: str) -> bool:
        try:
            await self.size(key)
        except FileNotFoundError:
            return False
        return True

    async def size(self, key: str) -> int:
        """Raises FileNotFoundError when ``key`` is missing."""
        s3 = await self._s3()
        try:
            head = await s3.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if _is_not_found(exc):
                raise FileNotFoundError(f"no object for key {key!r}") from exc
            raise
        return int(head["ContentLength"])

    async def delete(self, key: str) -> None:
        s3 = await self._s3()
        await s3.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    async def delete_prefix(self, prefix: str) -> None:
        s3 = await self._s3()
        full_prefix = self.object_key(validate_prefix(prefix).removesuffix("/"))
        if prefix.endswith("/"):
            full_prefix += "/"
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
            objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if objects:  # a page holds ≤ 1000 keys, the delete_objects limit
                await s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
                )

    async def presigned_url(
        self, key: str, *, expires_s: int, filename: str | None = None
    ) -> str | None:
        s3 = await self._s3()
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self.object_key(key)}
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        url = await s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)
        return str(url)

    async def close(self) -> None:
        async with self._lock:
            await self._stack.aclose()
            self._client = None

    async def _s3(self) -> Any:
        async with self._lock:
            if self._client is None:
                self._client = await self._stack.enter_async_context(
                    self._session.client(
                        "s3", endpoint_url=self.endpoint_url, region_name=self.region
                    )
                )
            return self._client

    async def _upload_part(
        self, object_key: str, upload_id: str, parts: list[dict[str, Any]], data: bytes
    ) -> dict[str, Any]:
        s3 = await self._s3()
        number = len(parts) + 1
        response = await s3.upload_part(
            Bucket=self.bucket,
            Key=object_key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
        )
        return {"ETag": response["ETag"], "PartNumber": number}

    async def _abort(self, object_key: str, upload_id: str) -> None:
        s3 = await self._s3()
        await s3.abort_multipart_upload(Bucket=self.bucket, Key=object_key, UploadId=upload_id)


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact UTF-8 one (RFC 6266)."""
    fallback = "".join(
        c if c.isascii() and c not in '"\\' and c.isprintable() else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _is_not_found(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "")) in _NOT_FOUND
