"""Subtitle files read by the engine (``workers.render.subtitles``) and by ``reelay render
--captions``: SRT, WebVTT with word stamps, ASS; and ``--caption-style``."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from server.cli import main
from workers.render import Caption, Word
from workers.render.subtitles import SubtitlesInvalid, parse_subtitles

VTT = b"""WEBVTT

00:00:00.800 --> 00:00:01.800
<v Ann>one <00:00:01.100>two <00:00:01.400>three
"""


def test_vtt_stamps_are_word_timing() -> None:
    parsed = parse_subtitles(VTT)
    assert parsed.format == "vtt"
    assert parsed.captions == (
        Caption(0.8, 1.8, "one two three", (Word(0.8, 1.1, "one"), Word(1.1, 1.4, "two"),
                                             Word(1.4, 1.8, "three"))),
    )  # fmt: skip


def test_a_stamp_outside_its_cue_names_its_line() -> None:
    bad = VTT.replace(b"<00:00:01.400>", b"<00:00:02.400>")
    with pytest.raises(SubtitlesInvalid) as caught:
        parse_subtitles(bad)
    assert caught.value.line == 4


def test_offset_drops_cues_that_end_before_zero() -> None:
    srt = b"1\n00:00:00,500 --> 00:00:01,000\nearly\n\n2\n00:00:03,000 --> 00:00:04,000\nlate\n"
    parsed = parse_subtitles(srt, offset_s=-2.0)
    assert parsed.captions == (Caption(1.0, 2.0, "late"),)


def test_utf16_and_latin1_files_are_read() -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\nGrüße\n"
    assert parse_subtitles(text.encode("utf-16")).captions[0].text == "Grüße"
    assert parse_subtitles(text.encode("cp1252")).captions[0].text == "Grüße"


def _lit(path: Path, t: float) -> int:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= t:
                rgb = frame.to_ndarray(format="rgb24").astype(int)
                mask = (rgb[..., 0] > 190) & (rgb[..., 1] > 190) & (rgb[..., 2] < 90)
                return int(mask.sum())
    raise AssertionError("no frame")


def test_render_reads_a_vtt_and_a_style(counter_source: Path, tmp_path: Path) -> None:
    vtt = tmp_path / "talk.vtt"
    vtt.write_bytes(VTT)
    out = tmp_path / "k.mp4"
    code = main(["render", str(counter_source), "--start", "0.5", "--end", "2.0",
                 "--captions", str(vtt), "--caption-style", '{"preset": "karaoke"}',
                 "--chunk-s", "0.5", "-o", str(out)])  # fmt: skip
    assert code == 0
    assert _lit(out, 1.25 - 0.5) > 100  # "two" is being said
    plain = tmp_path / "c.mp4"
    assert main(["render", str(counter_source), "--start", "0.5", "--end", "2.0",
                 "--captions", str(vtt), "--chunk-s", "0.5", "-o", str(plain)]) == 0  # fmt: skip
    assert _lit(plain, 1.25 - 0.5) < 10


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--caption-style", '{"preset": "neon"}'], "preset"),
        (["--caption-style", "[1]"], "JSON object"),
        (["--caption-style", '{"size": 9}'], "size"),
    ],
)
def test_bad_styles_and_files_exit_with_one_line(
    source: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    needle: str,
) -> None:
    assert main(["render", str(source), "--start", "0", "--end", "1", *args,
                 "-o", str(tmp_path / "o.mp4")]) == 1  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("reelay render: invalid_render_spec: ")
    assert needle in err[0]


def test_a_broken_srt_exits_naming_its_line(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    srt = tmp_path / "bad.srt"
    srt.write_text("1\n00:00:01,000 --> oops\nhi\n")
    assert main(["render", str(source), "--start", "0", "--end", "1", "--captions", str(srt),
                 "-o", str(tmp_path / "o.mp4")]) == 1  # fmt: skip
    assert "line 2" in capsys.readouterr().err
