"""Burned-in captions: drawn where and when they should be, in every style, inside the safe
area, in any covered script — measured on decoded output frames."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from tests.render.conftest import frame_luma
from workers.render import Caption, CaptionStyle, RenderSpec, Word, render
from workers.render.caption_layout import safe_box
from workers.render.captions import CaptionTrack

CAPTION_START, CAPTION_END = 1.0, 1.5
FPS = 30
START_S = 0.5


def _render(
    source: Path,
    out: Path,
    captions: tuple[Caption, ...],
    style: CaptionStyle | None = None,
    aspect: str = "9:16",
    end_s: float = 2.0,
) -> None:
    spec = RenderSpec(
        start_s=START_S,
        end_s=end_s,
        chunk_s=0.5,
        aspect_ratio=aspect,  # type: ignore[arg-type]
        captions=captions,
        caption_style=style or CaptionStyle(),
    )
    render(str(source), spec, str(out))


def _rgb_frame(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.int32)
    raise AssertionError(f"{path} has no frame {index}")


def _frame_at(t: float) -> int:
    return int((t - START_S) * FPS)


def _yellow(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r > 190) & (g > 190) & (b < 90)


@pytest.mark.parametrize("text", ["Hello there, world", "Grüße — Привет — Γειά"])
def test_caption_is_drawn_in_the_lower_part_only_while_shown(
    source: Path, tmp_path: Path, text: str
) -> None:
    _render(source, tmp_path / "plain.mp4", ())
    _render(source, tmp_path / "captioned.mp4", (Caption(CAPTION_START, CAPTION_END, text),))
    shown = _frame_at(1.3)
    plain = frame_luma(tmp_path / "plain.mp4", shown)
    captioned = frame_luma(tmp_path / "captioned.mp4", shown)
    height = plain.shape[0]
    diff = np.abs(captioned - plain)
    assert diff[2 * height // 3 :].mean() > 3  # lower third: visibly changed
    assert diff[: height // 2].mean() < 1  # upper half: untouched
    assert (captioned[2 * height // 3 :] > 235).sum() > 500  # white text present
    assert (captioned[2 * height // 3 :] < 30).sum() > 500  # dark outline present
    hidden = _frame_at(0.67)
    before = np.abs(
        frame_luma(tmp_path / "captioned.mp4", hidden) - frame_luma(tmp_path / "plain.mp4", hidden)
    )
    assert before.mean() < 1


WORDS = ("one", "two", "three", "four", "five", "six")


def _timed_caption() -> Caption:
    words = tuple(Word(0.6 + i * 0.3, 0.6 + i * 0.3 + 0.25, text) for i, text in enumerate(WORDS))
    return Caption(0.6, 2.4, " ".join(WORDS), words)


def test_karaoke_lights_the_word_being_said_and_classic_lights_none(
    counter_source: Path, tmp_path: Path
) -> None:
    caption = _timed_caption()
    karaoke = CaptionStyle(preset="karaoke")
    _render(counter_source, tmp_path / "karaoke.mp4", (caption,), karaoke, end_s=2.5)
    _render(counter_source, tmp_path / "classic.mp4", (caption,), CaptionStyle(), end_s=2.5)
    track = CaptionTrack((caption,), 720, 1280, karaoke)
    checked = 0
    for k in range(len(WORDS) - 1):
        word = caption.words[k]
        midpoint = (word.start_s + word.end_s) / 2
        keys = track.active(midpoint)
        assert len(keys) == 1
        boxes = track.image(keys[0]).word_boxes
        frame = _rgb_frame(tmp_path / "karaoke.mp4", _frame_at(midpoint))
        lit = _yellow(frame)
        x0, y0, x1, y1 = boxes[k]
        nx0, ny0, nx1, ny1 = boxes[k + 1]
        assert lit[y0:y1, x0:x1].sum() > 150, f"word {k} is not lit at its midpoint"
        assert lit[ny0:ny1, nx0:nx1].sum() < 10, f"word {k + 1} is lit before it is said"
        classic = _rgb_frame(tmp_path / "classic.mp4", _frame_at(midpoint))
        assert _yellow(classic).sum() < 10
        assert (classic[y0:y1, x0:x1].min(axis=-1) > 220).sum() > 150  # white text there
        checked += 1
    assert checked == len(WORDS) - 1


def test_karaoke_without_word_timing_draws_classic(counter_source: Path, tmp_path: Path) -> None:
    untimed = Caption(0.6, 2.4, " ".join(WORDS))
    _render(counter_source, tmp_path / "k.mp4", (untimed,), CaptionStyle(preset="karaoke"))
    frame = _rgb_frame(tmp_path / "k.mp4", _frame_at(1.5))
    assert _yellow(frame).sum() < 10
    assert (frame[800:].min(axis=-1) > 220).sum() > 500


def test_box_draws_a_translucent_backing(counter_source: Path, tmp_path: Path) -> None:
    caption = Caption(0.6, 1.9, "boxed words")
    _render(counter_source, tmp_path / "plain.mp4", ())
    _render(counter_source, tmp_path / "box.mp4", (caption,), CaptionStyle(preset="box"))
    image = CaptionTrack((caption,), 720, 1280, CaptionStyle(preset="box")).image((0, 0))
    index = _frame_at(1.2)
    plain, boxed = (
        frame_luma(tmp_path / "plain.mp4", index),
        frame_luma(tmp_path / "box.mp4", index),
    )
    x, y, h = image.x, image.y, image.height
    corner = (slice(y + h // 2 - 2, y + h // 2 + 2), slice(x + 4, x + 8))  # box, no text
    assert boxed[corner].mean() < plain[corner].mean() - 40  # darker, but not black:
    assert boxed[corner].mean() > 10  # the frame shows through
    assert abs(boxed[y - 8, x - 8] - plain[y - 8, x - 8]) < 4  # outside the box: untouched


def test_pop_shows_at_most_three_words_with_the_current_one_enlarged() -> None:
    caption = _timed_caption()
    track = CaptionTrack((caption,), 720, 1280, CaptionStyle(preset="pop"))
    for cue in track.cues:
        assert len({p.word for line in cue.lines for p in line}) <= 3
    keys = track.active(caption.words[1].start_s + 0.1)
    lit = track.image(keys[0]).word_boxes[1]
    unlit_keys = track.active(caption.words[0].start_s + 0.1)
    unlit = track.image(unlit_keys[0]).word_boxes[1]
    assert lit[2] - lit[0] > (unlit[2] - unlit[0]) * 1.15
    phrases = {k[0] for t in np.arange(0.6, 2.4, 0.05) for k in track.active(float(t))}
    assert len(phrases) == 2  # "one two three" then "four five six"


LONG = (
    "Captions have to stay readable on a phone, so this deliberately long line of "
    "speech keeps going well past what two lines could ever hold at twice the size"
)


@pytest.mark.parametrize("aspect,size", [("9:16", (720, 1280)), ("16:9", (1280, 720))])
def test_forty_long_captions_stay_inside_the_safe_area(aspect: str, size: tuple[int, int]) -> None:
    width, height = size
    style = CaptionStyle(size=2.0, max_lines=2)
    captions = tuple(
        Caption(i * 1.0, i * 1.0 + 0.9, f"{i} {LONG} {'word ' * (i % 7)}") for i in range(40)
    )
    for preset in ("classic", "box", "pop", "karaoke"):
        styled = CaptionStyle(preset=preset, size=2.0, max_lines=2)  # type: ignore[arg-type]
        track = CaptionTrack(captions, width, height, styled)
        left, top, right, bottom = safe_box(width, height)
        assert left >= width * 0.05 and right <= width * 0.95
        for cue_index, cue in enumerate(track.cues):
            assert 1 <= len(cue.lines) <= style.max_lines
            image = track.image((cue_index, 0))
            ys, xs = np.nonzero(image.rgba[..., 3])
            assert len(xs) > 0
            assert image.x + xs.min() >= left and image.x + xs.max() < right
            assert image.y + ys.min() >= top and image.y + ys.max() < bottom
        shown = {round(t, 2) for cue in track.cues for t in (cue.start_s, cue.end_s)}
        assert min(shown) == 0.0 and max(shown) == pytest.approx(39.9)


def test_a_caption_too_long_for_its_lines_is_split_in_time_by_its_words() -> None:
    words = LONG.split()
    timed = tuple(Word(10 + i * 0.25, 10 + i * 0.25 + 0.2, w) for i, w in enumerate(words))
    caption = Caption(10.0, 10 + len(words) * 0.25, LONG, timed)
    track = CaptionTrack((caption,), 720, 1280, CaptionStyle(size=2.0, max_lines=1))
    assert len(track.cues) > 3
    assert track.cues[0].start_s == caption.start_s and track.cues[-1].end_s == caption.end_s
    for before, after in zip(track.cues, track.cues[1:], strict=False):
        assert before.end_s == after.start_s  # back to back, no gap, no overlap
        first_word = after.lines[0][0].word
        assert after.start_s == timed[first_word].start_s
    said = [p.word for cue in track.cues for line in cue.lines for p in line]
    assert said == list(range(len(words)))  # every word once, in order


def test_captions_in_the_margins_never_show_in_rendered_frames(
    counter_source: Path, tmp_path: Path
) -> None:
    captions = tuple(
        Caption(0.5 + i * 0.05, 0.5 + (i + 1) * 0.05, f"{i} {LONG}") for i in range(30)
    )
    style = CaptionStyle(size=2.0, preset="box")
    _render(counter_source, tmp_path / "plain.mp4", ())
    _render(counter_source, tmp_path / "long.mp4", captions, style)
    left, top, right, bottom = safe_box(720, 1280)
    for index in range(0, 45, 3):
        diff = np.abs(
            frame_luma(tmp_path / "long.mp4", index) - frame_luma(tmp_path / "plain.mp4", index)
        )
        inside = diff[top:bottom, left:right]
        assert inside.max() > 60  # the caption is there
        margins = diff.copy()
        margins[top:bottom, left:right] = 0
        assert margins.max() < 40, f"frame {index}: caption pixels in the margin"


@pytest.mark.parametrize(
    "text",
    [
        "مرحبا بكم في المقطع",  # Arabic: shaped and right to left
        "שלום לכולם וברוכים הבאים",  # Hebrew
        "今日はいい天気ですね",  # Japanese, no spaces
        "Mixed 日本語 and עברית and العربية 42",
    ],
)
def test_right_to_left_and_cjk_captions_render(
    counter_source: Path, tmp_path: Path, text: str
) -> None:
    _render(counter_source, tmp_path / "plain.mp4", ())
    _render(counter_source, tmp_path / "script.mp4", (Caption(CAPTION_START, CAPTION_END, text),))
    index = _frame_at(1.2)
    diff = np.abs(
        frame_luma(tmp_path / "script.mp4", index) - frame_luma(tmp_path / "plain.mp4", index)
    )
    assert (diff > 60).sum() > 800  # real glyphs, not a few boxes of tofu
    image = CaptionTrack((Caption(0, 1, text),), 720, 1280).image((0, 0))
    faces = {
        p.face
        for cue in CaptionTrack((Caption(0, 1, text),), 720, 1280).cues
        for line in cue.lines
        for p in line
    }
    if any("\u3040" <= ch <= "\u9fff" for ch in text):
        assert "WenQuanYiMicroHei.ttf" in faces
    assert image.rgba[..., 3].any()


def test_right_to_left_words_read_from_the_right() -> None:
    track = CaptionTrack((Caption(0, 1, "שלום עולם"),), 720, 1280)
    boxes = track.image((0, 0)).word_boxes
    assert boxes[0][0] > boxes[1][0]  # the first word said is the rightmost
