"""``reelay render`` as a user runs it: exit codes, one-line errors, a finished file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from server.cli import main
from tests.media import make_garbage
from tests.render.conftest import read_media


def test_renders_and_reports_the_output(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    captions = tmp_path / "captions.json"
    captions.write_text(json.dumps([{"start_s": 1.0, "end_s": 1.5, "text": "Grüße"}]))
    out = tmp_path / "out.mp4"
    code = main(["render", str(source), "--start", "0.5", "--end", "1.5", "--aspect", "1:1",
                 "--captions", str(captions), "--chunk-s", "0.5", "-o", str(out)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "720x720" in printed and "1.00 s" in printed
    media = read_media(out, decode_audio=False)
    assert (media.width, media.height, media.frames) == (720, 720, 30)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--start", "0", "--end", "99"], "moment_out_of_range"),
        (["--start", "0", "--end", "1", "--focus-x", "2"], "invalid_render_spec"),
        (["--start", "0", "--end", "1", "--captions", "/nonexistent.json"], "invalid_render_spec"),
    ],
)
def test_bad_input_exits_nonzero_with_one_line(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: str
) -> None:
    assert main(["render", str(source), *args, "-o", str(tmp_path / "o.mp4")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"reelay render: {code}: ")
    assert not (tmp_path / "o.mp4").exists()


def test_not_a_video_through_the_real_command(tmp_path: Path) -> None:
    garbage = make_garbage(tmp_path / "x.mp4")
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "render", str(garbage), "--start", "0", "--end", "1",
         "-o", str(tmp_path / "o.mp4")],
        capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "reelay render: not_a_video: x.mp4 is not a readable media file"
    ]
