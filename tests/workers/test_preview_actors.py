"""The render actors' side of the live preview, driven by a real Dramatiq worker on the
suite's Redis and database with a real source: the first chunk renders alone and the rest
follow it; every chunk leaves a preview segment and the first a poster; export.preview
rises to every chunk before the end; the segments go one media-URL lifetime after the end
(the poster stays); with the preview off none of it happens."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import workers.render
from server.domain.models import Export, ExportChunk, ExportStatus
from server.domain.storage_keys import poster_key, segment_key
from tests.conftest import RedisServer, SettingsFactory
from tests.media import make_video
from tests.workers.helpers import running_worker
from tests.workers.test_plan_once import _create_export, _wait_for_end
from workers.runtime import WorkerRuntime

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def preview_rt(
    database_url: str, redis_server: RedisServer, settings: SettingsFactory
) -> Iterator[WorkerRuntime]:
    yield from running_worker(redis_server, settings, media_url_ttl_s=2)


@pytest.fixture
def no_preview_rt(
    database_url: str, redis_server: RedisServer, settings: SettingsFactory
) -> Iterator[WorkerRuntime]:
    yield from running_worker(redis_server, settings, live_preview=False)


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str, float]]:
    """(chunk index, "start"/"end", time) of every chunk render, in order."""
    seen: list[tuple[int, str, float]] = []
    lock = threading.Lock()
    real = workers.render.render_chunk

    def recorded(src: str, spec: Any, plan: Any, chunk: Any, out: str, **kw: Any) -> str:
        with lock:
            seen.append((chunk.index, "start", time.monotonic()))
        try:
            return real(src, spec, plan, chunk, out, **kw)
        finally:
            with lock:
                seen.append((chunk.index, "end", time.monotonic()))

    monkeypatch.setattr(workers.render, "render_chunk", recorded)
    return seen


def _preview_events(rt: WorkerRuntime, export: Export) -> list[tuple[str, dict[str, Any]]]:
    page = rt.run(rt.events.read_since(export.project_id, 0))
    return [(e.type, e.data) for e in page.events if e.export_id == export.id]


def test_the_first_chunk_renders_alone_then_every_chunk_is_watchable(
    preview_rt: WorkerRuntime, renders: list[tuple[int, str, float]], tmp_path: Path
) -> None:
    rt = preview_rt
    export = _create_export(rt, make_video(tmp_path / "source.mp4", duration_s=4.0))
    rt.enqueuer.send_now("plan_export", export.id, export.attempt)
    ended = _wait_for_end(rt, export.id)
    assert ended.status == ExportStatus.COMPLETED, (ended.error_code, ended.error_message)
    chunks = ended.chunks_total
    assert chunks >= 3

    first_done = next(t for i, kind, t in renders if i == 0 and kind == "end")
    later_starts = [t for i, kind, t in renders if i > 0 and kind == "start"]
    assert len(later_starts) == chunks - 1
    assert min(later_starts) >= first_done, "a chunk started before the first one was done"

    rows = rt.run(ExportChunk.filter(export_id=export.id, index__gte=0).order_by("index"))
    assert [r.segment_key for r in rows] == [segment_key(export.id, i) for i in range(chunks)]
    assert ended.preview_chunks == chunks and ended.poster_key == poster_key(export.id)
    assert rt.run(rt.storage.exists(poster_key(export.id)))

    events = _preview_events(rt, ended)
    types = [t for t, _ in events]
    counts = [d["chunks_ready"] for t, d in events if t == "export.preview"]
    assert counts == sorted(set(counts)) and counts[-1] == chunks, counts
    last_preview = max(i for i, t in enumerate(types) if t == "export.preview")
    assert last_preview < types.index("export.completed")

    # One media-URL lifetime (2 s here) after the end, the segments go; the poster stays.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if rt.run(Export.get(id=export.id)).preview_chunks == 0:
            break
        time.sleep(0.2)
    after = rt.run(Export.get(id=export.id))
    assert after.preview_chunks == 0 and after.poster_key == poster_key(export.id)
    for index in range(chunks):
        assert not rt.run(rt.storage.exists(segment_key(export.id, index)))
    assert rt.run(rt.storage.exists(poster_key(export.id)))
    assert rt.run(rt.storage.exists(after.video_key or ""))


def test_with_the_preview_off_nothing_of_it_is_made(
    no_preview_rt: WorkerRuntime, tmp_path: Path
) -> None:
    rt = no_preview_rt
    export = _create_export(rt, make_video(tmp_path / "source.mp4", duration_s=4.0))
    rt.enqueuer.send_now("plan_export", export.id, export.attempt)
    ended = _wait_for_end(rt, export.id)
    assert ended.status == ExportStatus.COMPLETED, (ended.error_code, ended.error_message)
    assert (ended.preview_chunks, ended.poster_key) == (0, None)
    keys = rt.run(ExportChunk.filter(export_id=export.id).values_list("segment_key", flat=True))
    assert set(keys) == {None}
    assert "export.preview" not in [t for t, _ in _preview_events(rt, ended)]
