"""Files in a local directory (the embedded default); writes appear whole or not at all."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from server.storage.base import UploadTooLarge, validate_key, validate_prefix

#: Bytes gathered before one write to disk (keeps thread hops few for small chunks).
WRITE_BUFFER_BYTES = 1 << 20


class LocalStorage:
    """Keys are paths under ``root``; partial files live in ``root/.tmp`` until renamed."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def local_path(self, key: str) -> Path:
        return self.root / validate_key(key)

    async def save_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int | None = None
    ) -> int:
        target = self.local_path(key)
        temp = await asyncio.to_thread(self._temp_path)
        size = 0
        buffer = bytearray()
        try:
            with temp.open("wb") as handle:
                async for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise UploadTooLarge(max_bytes)
                    buffer += chunk
                    if len(buffer) >= WRITE_BUFFER_BYTES:
                        await asyncio.to_thread(handle.write, bytes(buffer))
                        buffer.clear()
                await asyncio.to_thread(handle.write, bytes(buffer))
            await asyncio.to_thread(_publish, temp, target)
        except BaseException:
            # Anything (too large, client gone, cancelled): no partial file stays behind.
            temp.unlink(missing_ok=True)
            raise
        return size

    async def put_file(self, key: str, path: Path) -> None:
        target = self.local_path(key)
        await asyncio.to_thread(self._copy, path, target)

    async def get_file(self, key: str, path: Path) -> None:
        source = self.local_path(key)
        await asyncio.to_thread(self._copy, source, path)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.local_path(key).is_file)

    async def size(self, key: str) -> int:
        """Raises FileNotFoundError when ``key`` is missing."""
        stat = await asyncio.to_thread(self.local_path(key).stat)
        return stat.st_size

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.local_path(key).unlink, missing_ok=True)

    async def delete_prefix(self, prefix: str) -> None:
        """Every key starting with ``prefix`` (S3 semantics: ``a/b`` also matches ``a/bc``)."""
        await asyncio.to_thread(self._delete_prefix, validate_prefix(prefix))

    async def presigned_url(
        self, key: str, *, expires_s: int, filename: str | None = None
    ) -> str | None:
        return None

    async def close(self) -> None:
        return None

    def _temp_path(self) -> Path:
        temp_dir = self.root / ".tmp"
        temp_dir.mkdir(parents=True, exist_ok=True)
        return temp_dir / f"{secrets.token_hex(8)}.part"

    def _copy(self, source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
        try:
            shutil.copyfile(source, temp)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def _delete_prefix(self, prefix: str) -> None:
        if prefix.endswith("/"):
            shutil.rmtree(self.root / prefix, ignore_errors=True)
            return
        parent = (self.root / prefix).parent
        stem = prefix.rsplit("/", 1)[-1]
        if not parent.is_dir():
            return
        for entry in parent.iterdir():
            if not entry.name.startswith(stem):
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _publish(temp: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, target)
