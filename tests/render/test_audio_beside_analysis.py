"""Auto reframe's analysis and the moment's audio share the machine: the audio is encoded
while the faces are analysed (it never depends on the camera), and a failing analysis
stops the audio encode rather than leaving it running."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.media import make_video
from tests.render.conftest import read_media
from workers.render import RenderSpec, engine, render
from workers.render.analysis import FocusAnalysis

AUTO = RenderSpec(0.0, 2.0, aspect_ratio="9:16", resolution="720p", focus_mode="auto")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_video(tmp_path / "source.mp4", duration_s=2.0)


def test_the_audio_is_encoded_while_the_faces_are_analysed(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audio_started = threading.Event()
    real_audio, real_analysis = engine.render_audio, engine.analyse_focus
    overlapped: list[bool] = []

    def audio(*args: Any, **kwargs: Any) -> str | None:
        audio_started.set()
        return real_audio(*args, **kwargs)

    def analysis(*args: Any, **kwargs: Any) -> FocusAnalysis:
        # Sequential code would only start the audio after this returns: never set here.
        overlapped.append(audio_started.wait(timeout=30))
        return real_analysis(*args, **kwargs)

    monkeypatch.setattr(engine, "render_audio", audio)
    monkeypatch.setattr(engine, "analyse_focus", analysis)
    out = tmp_path / "out.mp4"
    render(str(source), AUTO, str(out))
    assert overlapped == [True]
    media = read_media(out)
    assert (
        media.frames == 60 and media.audio is not None and media.audio.shape[1] >= 2 * 48000 - 1024
    )


def test_a_failing_analysis_stops_the_audio_and_leaves_nothing(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped: list[bool] = []
    real_audio = engine.render_audio

    def audio(*args: Any, should_cancel: Any = None, **kwargs: Any) -> str | None:
        try:
            return real_audio(*args, should_cancel=should_cancel, **kwargs)
        finally:
            stopped.append(bool(should_cancel and should_cancel()))

    def analysis(*args: Any, **kwargs: Any) -> FocusAnalysis:
        raise RuntimeError("the detector broke")

    monkeypatch.setattr(engine, "render_audio", audio)
    monkeypatch.setattr(engine, "analyse_focus", analysis)
    with pytest.raises(RuntimeError, match="the detector broke"):
        render(str(source), AUTO, str(tmp_path / "out.mp4"))
    assert stopped == [True]  # the encode was told to stop, and had ended by the raise
    assert not [t for t in threading.enumerate() if t.name == "reelay-audio"]
    assert list(tmp_path.iterdir()) == [source]
