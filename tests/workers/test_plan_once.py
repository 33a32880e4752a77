"""An export of several chunks probes its source once: ``plan_export`` probes and stores the
plan; every chunk, the audio and the finalizer render from the stored plan. Driven by a
real Dramatiq worker (the render broker with its runtime) on the suite's Redis and
database, with a real source video; the probe is wrapped to count its calls."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import workers.render
import workers.render.engine
import workers.render.video
from server.domain.models import (
    Batch,
    Export,
    ExportChunk,
    ExportStatus,
    Moment,
    Project,
    new_id,
)
from server.domain.storage_keys import source_key
from tests.conftest import RedisServer, SettingsFactory
from tests.media import make_video
from tests.workers.helpers import running_worker
from workers.export_plans import plan_of, stored_plan
from workers.render import SourceInfo, probe
from workers.render.spec import RenderPlan
from workers.runtime import WorkerRuntime

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every probe of a source anywhere in the render engine, recorded by path."""
    calls: list[str] = []

    def counted(path: str) -> SourceInfo:
        calls.append(path)
        return probe(path)

    for module in (workers.render, workers.render.engine, workers.render.video):
        monkeypatch.setattr(module, "probe", counted)
    return calls


@pytest.fixture
def worker_rt(
    database_url: str, redis_server: RedisServer, settings: SettingsFactory
) -> Iterator[WorkerRuntime]:
    """A render worker in this process (two threads), booted on an empty Redis."""
    yield from running_worker(redis_server, settings)


def _create_export(rt: WorkerRuntime, source: Path) -> Export:
    async def create() -> Export:
        project_id = new_id("prj")
        project = await Project.create(
            id=project_id, user_id="u", name="p", source_key=source_key(project_id, ".mp4"),
            duration_s=4.0, width=320, height=240, fps=30, has_audio=True, size_bytes=1,
        )  # fmt: skip
        await rt.storage.put_file(project.source_key, source)
        moment = await Moment.create(
            id=new_id("mom"), user_id="u", project=project, start_s=0.5, end_s=3.5
        )
        batch = await Batch.create(id=new_id("bat"), user_id="u", project=project)
        return await Export.create(
            id=new_id("exp"), user_id="u", project=project, moment=moment, batch=batch,
            aspect_ratio="9:16", resolution="720p", chunk_s=1.0,
        )  # fmt: skip

    return rt.run(create())


def _wait_for_end(rt: WorkerRuntime, export_id: str, timeout_s: float = 240) -> Export:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        export = rt.run(Export.get(id=export_id))
        if ExportStatus(export.status).is_terminal:
            return export
        time.sleep(0.2)
    raise AssertionError(f"export {export_id} did not end within {timeout_s} s")


def test_a_render_of_many_chunks_probes_its_source_once(
    worker_rt: WorkerRuntime, probes: list[str], tmp_path: Path
) -> None:
    rt = worker_rt
    export = _create_export(rt, make_video(tmp_path / "source.mp4", duration_s=4.0))
    rt.enqueuer.send_now("plan_export", export.id, export.attempt)
    ended = _wait_for_end(rt, export.id)
    assert ended.status == ExportStatus.COMPLETED, (ended.error_code, ended.error_message)
    assert ended.chunks_total >= 3
    pieces = rt.run(ExportChunk.filter(export_id=export.id).count())
    assert pieces == ended.chunks_total + 1  # the chunks and the audio
    assert len(probes) == 1, probes
    stored = RenderPlan.from_json(ended.plan["plan"])
    assert len(stored.chunks) == ended.chunks_total and stored.source is not None
    assert (ended.width, ended.height) == (720, 1280)


def test_a_stored_plan_serves_its_attempt_only(
    worker_rt: WorkerRuntime, probes: list[str], tmp_path: Path
) -> None:
    rt = worker_rt
    export = _create_export(rt, make_video(tmp_path / "source.mp4", duration_s=4.0))
    rt.enqueuer.send_now("plan_export", export.id, export.attempt)
    ended = _wait_for_end(rt, export.id)
    assert len(probes) == 1, probes
    again = plan_of(rt, ended)  # a redelivered or resent plan message of the same attempt
    assert len(probes) == 1 and again == stored_plan(ended)
    ended.attempt += 1  # a retry plans afresh: the source or the moment may have changed
    rt.run(Export.filter(id=export.id).update(attempt=ended.attempt))
    assert stored_plan(ended) is None
    assert plan_of(rt, ended).to_json(0) == again.to_json(0) and len(probes) == 2
    assert rt.run(Export.get(id=export.id)).plan["attempt"] == ended.attempt
