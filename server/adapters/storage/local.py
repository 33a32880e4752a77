"""Files in a local directory (the embedded default); writes appear whole or not at all.

Deleting a key also removes the directories it leaves empty, up to (never including) the
root, so refused uploads and deleted projects leave no empty folders. A writer racing that
pruning recreates its directory and tries again, so pruning never loses a file.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from server.adapters.storage.base import BoundedBlocks, validate_key, validate_prefix

#: Bytes gathered before one write to disk (keeps thread hops few for small chunks).
WRITE_BUFFER_BYTES = 1 << 20
#: Times a writer recreates a directory pruned under it before giving up.
RACE_ATTEMPTS = 10
#: Where partial uploads are written until they are complete.
TEMP_DIR = ".tmp"


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
        handle = await asyncio.to_thread(self._open_temp)
        temp = Path(handle.name)
        blocks = BoundedBlocks(chunks, WRITE_BUFFER_BYTES, max_bytes)
        try:
            with handle:
                async for block in blocks:
                    await asyncio.to_thread(handle.write, block)
                await asyncio.to_thread(handle.write, blocks.rest)
            await asyncio.to_thread(self._move_into_place, temp, target)
        except BaseException:
            # Anything (too large, client gone, cancelled): no partial file stays behind.
            self._remove(temp)
            raise
        await asyncio.to_thread(self._prune, temp.parent)
        return blocks.size

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
        await asyncio.to_thread(self._remove, self.local_path(key))

    async def delete_prefix(self, prefix: str) -> None:
        """Every key starting with ``prefix`` (S3 semantics: ``a/b`` also matches ``a/bc``)."""
        await asyncio.to_thread(self._delete_prefix, validate_prefix(prefix))

    async def presigned_url(
        self, key: str, *, expires_s: int, filename: str | None = None
    ) -> str | None:
        return None

    async def close(self) -> None:
        return None

    def _open_temp(self) -> BinaryIO:
        """A new partial file under ``.tmp``, recreating the folder if pruning just took it."""
        temp_dir = self.root / TEMP_DIR
        for _ in range(RACE_ATTEMPTS - 1):
            _make_dirs(temp_dir)
            try:
                return (temp_dir / f"{secrets.token_hex(8)}.part").open("xb")
            except FileNotFoundError:
                continue  # pruned between mkdir and open
        _make_dirs(temp_dir)
        return (temp_dir / f"{secrets.token_hex(8)}.part").open("xb")

    def _move_into_place(self, temp: Path, target: Path) -> None:
        """Rename ``temp`` to ``target``, recreating ``target``'s folder if it was pruned."""
        for _ in range(RACE_ATTEMPTS - 1):
            _make_dirs(target.parent)
            try:
                os.replace(temp, target)
                return
            except FileNotFoundError:
                if not temp.exists():
                    raise
        _make_dirs(target.parent)
        os.replace(temp, target)

    def _copy(self, source: Path, target: Path) -> None:
        """Copy atomically; a target folder pruned mid-copy is recreated and the copy redone."""
        for attempt in range(RACE_ATTEMPTS):
            _make_dirs(target.parent)
            temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
            try:
                shutil.copyfile(source, temp)
                os.replace(temp, target)
                return
            except FileNotFoundError:
                temp.unlink(missing_ok=True)
                if attempt == RACE_ATTEMPTS - 1 or not source.exists():
                    raise
            except BaseException:
                temp.unlink(missing_ok=True)
                raise

    def _remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self._prune(path.parent)

    def _prune(self, directory: Path) -> None:
        """Remove ``directory`` and its parents while they are empty, stopping at the root.

        ``rmdir`` refuses a folder that holds anything, so a file a concurrent writer put there
        is never lost; the writer recreates a folder removed before its file landed.
        """
        if not directory.is_relative_to(self.root):
            return  # a target outside the storage (get_file into a work dir) is not ours
        while directory != self.root:
            try:
                directory.rmdir()
            except FileNotFoundError:
                pass  # already gone: look at its parent
            except OSError:
                return  # not empty (or not ours to remove): everything above stays too
            directory = directory.parent

    def _delete_prefix(self, prefix: str) -> None:
        if prefix.endswith("/"):
            folder = self.root / prefix
            shutil.rmtree(folder, ignore_errors=True)
            self._prune(folder.parent)
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
        self._prune(parent)


def _make_dirs(directory: Path) -> None:
    """``mkdir -p`` that tolerates a concurrent prune removing a folder while it is made."""
    for attempt in range(RACE_ATTEMPTS):
        try:
            os.makedirs(directory, exist_ok=True)
            return
        except (FileExistsError, FileNotFoundError):
            if attempt == RACE_ATTEMPTS - 1:
                raise
