"""Local storage removes the folders a delete leaves empty — never the root, and never a
folder a concurrent writer is putting a file into."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from server.adapters.storage.local import LocalStorage


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_deleting_the_last_key_removes_empty_folders_but_not_the_root(
    tmp_path: Path,
) -> None:
    storage = LocalStorage(tmp_path / "media")
    await storage.save_stream("projects/p1/source.mp4", _bytes(b"video"))
    await storage.save_stream("projects/p2/source.mp4", _bytes(b"video"))
    await storage.delete("projects/p1/source.mp4")
    assert sorted(p.name for p in storage.root.rglob("*")) == ["p2", "projects", "source.mp4"]
    await storage.delete_prefix("projects/p2/")
    assert list(storage.root.iterdir()) == []
    assert storage.root.is_dir()


async def test_a_delete_racing_writers_in_the_same_folder_never_loses_a_file(
    tmp_path: Path,
) -> None:
    storage = LocalStorage(tmp_path / "media")
    piece = tmp_path / "piece"
    piece.write_bytes(b"x" * 128)
    rounds = 150

    async def churn() -> None:  # writes and deletes, so the folder keeps becoming empty
        for i in range(rounds):
            await storage.put_file(f"shared/dir/tmp-{i}", piece)
            await storage.delete(f"shared/dir/tmp-{i}")

    async def write(kind: str) -> None:
        for i in range(rounds):
            if kind == "stream":
                await storage.save_stream(f"shared/dir/{kind}-{i}", _bytes(b"y" * 64))
            else:
                await storage.put_file(f"shared/dir/{kind}-{i}", piece)
            await storage.delete(f"shared/dir/{kind}-{i}")
        await storage.put_file(f"shared/dir/{kind}-kept", piece)

    await asyncio.wait_for(
        asyncio.gather(churn(), churn(), write("stream"), write("copy")), timeout=60
    )
    kept = sorted(p.name for p in (storage.root / "shared" / "dir").iterdir())
    assert kept == ["copy-kept", "stream-kept"]
