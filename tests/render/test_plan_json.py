"""A plan made once travels as JSON: rebuilt anywhere, it renders the same chunks without
probing the source again (the render actors store it on the export and never re-plan)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import workers.render.engine
import workers.render.video
from tests.media import make_video
from tests.render.conftest import all_luma_means, read_media
from workers.render import (
    Caption,
    RenderPlan,
    RenderSpec,
    SourceInfo,
    plan_render,
    probe,
    render,
    render_chunk,
)

SPEC = RenderSpec(
    start_s=0.2,
    end_s=1.8,
    aspect_ratio="1:1",
    focus_x=0.3,
    captions=(Caption(0.5, 1.5, "Grüße — hello"),),
    chunk_s=0.5,
    preset="ultrafast",
)


def through_json(value: dict[str, object]) -> dict[str, object]:
    return dict(json.loads(json.dumps(value)))


@pytest.fixture(scope="module")
def turned_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rotated and with non-square pixels: every source fact the reframing reads matters."""
    path = tmp_path_factory.mktemp("turned") / "turned.mp4"
    return make_video(path, duration_s=2.0, rotation=90, sar=(4, 3))


def counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call of ``probe`` through the modules of the render engine, recorded."""
    calls: list[str] = []

    def counted(path: str) -> SourceInfo:
        calls.append(path)
        return probe(path)

    for module in (workers.render.engine, workers.render.video):
        monkeypatch.setattr(module, "probe", counted)
    return calls


def test_a_plan_and_a_spec_round_trip_through_json(turned_source: Path) -> None:
    source = probe(str(turned_source))
    plan = plan_render(source, SPEC)
    assert plan.source is not None and plan.source.rotation in (90, 270)
    rebuilt = RenderPlan.from_json(through_json(plan.to_json()))
    assert rebuilt == replace(plan, source=replace(source, keyframes_s=()))
    assert RenderSpec.from_json(through_json(SPEC.to_json())) == SPEC


def test_a_stored_plan_lacking_a_field_is_refused(source: Path) -> None:
    stored = through_json(plan_render(probe(str(source)), SPEC).to_json())
    del stored["total_frames"]
    with pytest.raises(ValueError, match="RenderPlan"):
        RenderPlan.from_json(stored)


def test_chunks_of_a_rebuilt_plan_render_the_same_frames_without_probing(
    turned_source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = plan_render(probe(str(turned_source)), SPEC)
    rebuilt = RenderPlan.from_json(through_json(plan.to_json()))
    calls = counting(monkeypatch)
    chunk = plan.chunks[1]
    fresh = render_chunk(str(turned_source), SPEC, plan, chunk, str(tmp_path / "a.mp4"))
    stored = render_chunk(str(turned_source), SPEC, rebuilt, chunk, str(tmp_path / "b.mp4"))
    assert calls == []
    a, b = read_media(fresh, decode_audio=False), read_media(stored, decode_audio=False)
    expected = (720, 720, chunk.frame_count)
    assert (a.width, a.height, a.frames) == (b.width, b.height, b.frames) == expected
    assert np.allclose(all_luma_means(fresh), all_luma_means(stored))


def test_a_plan_without_source_facts_still_renders_by_probing(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = replace(plan_render(probe(str(source)), SPEC), source=None)
    calls = counting(monkeypatch)
    render_chunk(str(source), SPEC, plan, plan.chunks[0], str(tmp_path / "c.mp4"))
    assert calls == [str(source)]


@pytest.mark.parametrize("chunked", [True, False])
def test_a_whole_render_probes_its_source_once(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunked: bool
) -> None:
    calls: list[str] = counting(monkeypatch)
    out = render(str(source), SPEC, str(tmp_path / "out.mp4"), chunked=chunked)
    assert read_media(out.path, decode_audio=False).frames == 48
    assert calls == [str(source)]
