"""Burned-in captions: drawn where and when they should be, wrapped, in any covered script."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.render.conftest import frame_luma
from workers.render import Caption, RenderSpec, render
from workers.render.captions import _font, render_caption, wrap

CAPTION_START, CAPTION_END = 1.0, 1.5


def _render(source: Path, out: Path, text: str | None) -> None:
    captions = () if text is None else (Caption(CAPTION_START, CAPTION_END, text),)
    spec = RenderSpec(start_s=0.5, end_s=2.0, chunk_s=0.5, captions=captions)
    render(str(source), spec, str(out))


@pytest.mark.parametrize("text", ["Hello there, world", "Grüße — Привет — Γειά"])
def test_caption_is_drawn_in_the_lower_third_only_while_shown(
    source: Path, tmp_path: Path, text: str
) -> None:
    _render(source, tmp_path / "plain.mp4", None)
    _render(source, tmp_path / "captioned.mp4", text)
    shown = 24  # output frame at source time 1.3 s
    plain, captioned = (
        frame_luma(tmp_path / "plain.mp4", shown),
        frame_luma(tmp_path / "captioned.mp4", shown),
    )
    height = plain.shape[0]
    diff = np.abs(captioned - plain)
    assert diff[2 * height // 3 :].mean() > 5  # lower third: visibly changed
    assert diff[: height // 2].mean() < 1  # upper half: untouched
    assert (captioned[2 * height // 3 :] > 235).sum() > 500  # white text present
    assert (captioned[2 * height // 3 :] < 30).sum() > 500  # dark outline present
    hidden = 5  # source time 0.67 s: before the caption
    before = np.abs(
        frame_luma(tmp_path / "captioned.mp4", hidden) - frame_luma(tmp_path / "plain.mp4", hidden)
    )
    assert before.mean() < 1


def test_long_captions_wrap_to_the_frame_width() -> None:
    font = _font(40)
    lines = wrap("a fairly long caption that cannot possibly fit on one line " * 3, font, 600)
    assert len(lines) > 2
    assert all(font.getlength(line) <= 600 for line in lines)
    unspaced = wrap("字" * 80, font, 300)
    assert len(unspaced) > 1 and all(font.getlength(line) <= 300 for line in unspaced)


def test_caption_layer_fits_inside_the_frame_and_sits_low() -> None:
    layer = render_caption("word " * 60, 720, 1280)
    height, width = layer.y_keep.shape
    assert layer.x >= 0 and layer.x + width <= 720
    assert layer.y + height <= 1280
    assert layer.y + height > 1280 * 2 / 3
    assert (layer.y_keep < 0.5).any()  # opaque text pixels exist
