"""The ``Storage`` protocol, its errors and the key rules every backend shares."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

#: One key segment: no empty, ".", ".." or hidden (".x") segments, no odd characters.
_SEGMENT = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9._\-]*")
MAX_KEY_LENGTH = 512  # the width of the *_key columns


class InvalidKey(ValueError):
    """A storage key that could escape the storage root or is not one of ours."""


class UploadTooLarge(Exception):
    """A streamed upload went past ``limit_bytes``; nothing of it was kept."""

    code = "upload_too_large"

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"upload is larger than the limit of {limit_bytes} bytes")
        self.limit_bytes = limit_bytes


class BoundedBlocks:
    """An upload stream regrouped into blocks of at least ``block_bytes``, for one pass.

    Iterating yields each full block; what is left after the last one is ``rest`` (maybe
    empty) and ``size`` counts every byte. Past ``max_bytes`` in all, UploadTooLarge.
    """

    def __init__(
        self, chunks: AsyncIterator[bytes], block_bytes: int, max_bytes: int | None
    ) -> None:
        self._chunks = chunks
        self._block_bytes = block_bytes
        self._max_bytes = max_bytes
        self._buffer = bytearray()
        self.size = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self.size += len(chunk)
            if self._max_bytes is not None and self.size > self._max_bytes:
                raise UploadTooLarge(self._max_bytes)
            self._buffer += chunk
            if len(self._buffer) >= self._block_bytes:
                yield bytes(self._buffer)
                self._buffer.clear()

    @property
    def rest(self) -> bytes:
        """The bytes after the last full block."""
        return bytes(self._buffer)


def validate_key(key: str) -> str:
    """``key`` if it is a safe relative key, else InvalidKey."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"storage key must be 1..{MAX_KEY_LENGTH} characters: {key!r}")
    if not all(_SEGMENT.fullmatch(segment) for segment in key.split("/")):
        raise InvalidKey(f"storage key {key!r} is not a relative path of plain segments")
    return key


def validate_prefix(prefix: str) -> str:
    """A key prefix (a trailing ``/`` allowed); the empty prefix is refused (it means all)."""
    validate_key(prefix.removesuffix("/"))
    return prefix


class Storage(Protocol):
    """What the API and the workers need from a file store."""

    async def save_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int | None = None
    ) -> int:
        """Store the stream under ``key`` without holding it in memory; returns its size.

        Past ``max_bytes`` the partial object is removed and UploadTooLarge raised.
        """
        ...

    async def put_file(self, key: str, path: Path) -> None: ...

    async def get_file(self, key: str, path: Path) -> None:
        """Download to ``path``, which appears complete or not at all."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def size(self, key: str) -> int: ...

    async def delete(self, key: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> None: ...

    def local_path(self, key: str) -> Path | None:
        """The file on this machine holding ``key``, when the backend has one."""
        ...

    async def presigned_url(
        self, key: str, *, expires_s: int, filename: str | None = None
    ) -> str | None:
        """A URL anyone can GET for ``expires_s`` seconds, when the backend can make one."""
        ...

    async def close(self) -> None: ...
