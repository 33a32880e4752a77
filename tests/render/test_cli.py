"""``reelay render`` as a user runs it: exit codes, one-line errors, a finished file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
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


def test_focus_track_file_moves_the_crop(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    track = tmp_path / "track.json"
    track.write_text(json.dumps([{"t": 0.5, "x": 0.0}, {"t": 1.5, "x": 1.0}]))
    out = tmp_path / "tracked.mp4"
    code = main(["render", str(source), "--start", "0.5", "--end", "1.5", "--aspect", "9:16",
                 "--focus-track", str(track), "-o", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    # the source's white block sits top-left: seen at the start, panned away by the end
    first, last = _corner_brightness(out)
    assert first > 200 and last < 150, (first, last)


def _corner_brightness(path: Path) -> tuple[float, float]:
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    return float(frames[0][:40, :40].mean()), float(frames[-1][:40, :40].mean())


def test_focus_auto_without_a_face_says_it_kept_focus_x(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "auto.mp4"
    code = main(["render", str(source), "--start", "0", "--end", "1", "--focus", "auto",
                 "--focus-x", "0", "-o", str(out)])  # fmt: skip
    assert code == 0
    assert "auto focus: no face found; using --focus-x" in capsys.readouterr().err
    assert _corner_brightness(out)[0] > 200  # focus_x 0 keeps the top-left block


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"t": 0.8, "x": 0.5}, {"t": 0.2, "x": 0.5}]', "focus_track[1]: "),
        ('[{"t": 0.5}]', "must be a JSON list of objects with t, x"),
    ],
)
def test_a_bad_focus_track_file_names_the_problem(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    track = tmp_path / "bad.json"
    track.write_text(content)
    args = ["--start", "0", "--end", "1", "--focus-track", str(track)]
    assert main(["render", str(source), *args, "-o", str(tmp_path / "o.mp4")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("reelay render: invalid_render_spec: ") and message in err, err
