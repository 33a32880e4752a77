"""``reelay render``: one clip rendered in this process with a progress bar."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .analysis import FocusAnalysis
from .engine import render
from .errors import InvalidRenderSpec, RenderError
from .focus import FOCUS_MODES, FocusTrack, track_from_json
from .spec import (
    ASPECT_RATIOS,
    RESOLUTIONS,
    Caption,
    CaptionStyle,
    Progress,
    RenderSpec,
    caption_from_json,
)
from .subtitles import SubtitlesInvalid, parse_subtitles


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="source video file")
    parser.add_argument("--start", type=float, required=True, help="moment start, seconds")
    parser.add_argument("--end", type=float, required=True, help="moment end, seconds")
    parser.add_argument("--aspect", choices=ASPECT_RATIOS, default="9:16")
    parser.add_argument("--resolution", choices=RESOLUTIONS, default="720p")
    parser.add_argument(
        "--captions",
        type=Path,
        help='SRT, WebVTT, ASS, or a JSON list of {"start_s", "end_s", "text", "words"?} '
        "(source times)",
    )
    parser.add_argument(
        "--caption-style",
        type=str,
        help='JSON such as {"preset": "karaoke", "position": "bottom", "size": 1.2}',
    )
    parser.add_argument("--focus-x", type=float, default=0.5, help="horizontal focus, 0..1")
    parser.add_argument(
        "--focus",
        choices=FOCUS_MODES,
        default="manual",
        help="auto: follow the subject's face (falls back to --focus-x without one)",
    )
    parser.add_argument(
        "--focus-track",
        type=Path,
        help='JSON list of {"t", "x", "y"?} keyframes (source time) the crop centre follows',
    )
    parser.add_argument("--chunk-s", type=float, default=6.0, help="chunk length, seconds")
    parser.add_argument("--preset", default="veryfast", help="libx264 preset")
    parser.add_argument("--crf", type=int, default=23, help="libx264 CRF (0..51)")
    parser.add_argument("--work-dir", help="keep chunks here so a rerun resumes")
    parser.add_argument("-o", "--output", required=True, help="output MP4 path")


def load_track(path: Path) -> FocusTrack:
    """Read a focus track JSON file (``[{"t", "x", "y"?}, ...]``)."""
    try:
        return track_from_json(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise InvalidRenderSpec(f"cannot read focus track file {path}: {exc.strerror}") from exc
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidRenderSpec(
            f"{path} must be a JSON list of objects with t, x and optionally y"
        ) from exc


def load_captions(path: Path) -> tuple[Caption, ...]:
    """Read captions: a JSON list (``start_s/end_s`` or ``start/end`` keys, optional
    ``words``), or a subtitle file (SRT, WebVTT, ASS/SSA)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidRenderSpec(f"cannot read captions file {path}: {exc.strerror}") from exc
    if path.suffix.lower() != ".json" and not data.lstrip().startswith(b"["):
        try:
            return parse_subtitles(data).captions
        except SubtitlesInvalid as exc:
            raise InvalidRenderSpec(f"{path}: {exc}") from exc
    try:
        items: Any = json.loads(data.decode("utf-8"))
        return tuple(
            caption_from_json(
                {
                    "start_s": item.get("start_s", item.get("start")),
                    "end_s": item.get("end_s", item.get("end")),
                    "text": item["text"],
                    "words": item.get("words") or (),
                }
            )
            for item in items
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidRenderSpec(
            f"{path} must be a JSON list of objects with start_s, end_s and text"
        ) from exc


def load_style(raw: str | None) -> CaptionStyle:
    """``--caption-style``: a JSON object of CaptionStyle's fields."""
    if not raw:
        return CaptionStyle()
    try:
        obj: Any = json.loads(raw)
        style = CaptionStyle.from_json(obj)
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidRenderSpec("--caption-style must be a JSON object of style fields") from exc
    problem = style.problem()
    if problem is not None:
        raise InvalidRenderSpec(f"--caption-style: {problem}")
    return style


class _Bar:
    """A tqdm bar fed by Progress reports: frames, our measured speed and ETA."""

    def __init__(self) -> None:
        self.bar: tqdm[Any] | None = None  # created on the first report, so errors stay one line

    def __call__(self, progress: Progress) -> None:
        if self.bar is None:
            self.bar = tqdm(
                total=progress.frames_total,
                unit="frame",
                dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} frames{postfix}",
            )
        eta = "?" if progress.eta_s is None else f"{progress.eta_s:.0f}s"
        self.bar.set_postfix_str(
            f"{progress.speed:.2f}x, ETA {eta}, chunk {progress.chunks_done}/"
            f"{progress.chunks_total}",
            refresh=False,
        )
        self.bar.update(progress.frames_done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _tell_analysis(analysis: FocusAnalysis) -> None:
    if analysis.fallback:
        print("auto focus: no face found; using --focus-x", file=sys.stderr)
    else:
        print(
            f"auto focus: faces in {analysis.samples_with_faces}/{analysis.samples} pictures, "
            f"{len(analysis.track)} track points",
            file=sys.stderr,
        )


def run(args: argparse.Namespace) -> int:
    """Render; 0 on success, 1 with one ``code: message`` line on stderr otherwise."""
    bar = _Bar()
    try:
        captions = load_captions(args.captions) if args.captions else ()
        spec = RenderSpec(
            start_s=args.start,
            end_s=args.end,
            aspect_ratio=args.aspect,
            resolution=args.resolution,
            focus_x=args.focus_x,
            focus_track=load_track(args.focus_track) if args.focus_track else (),
            focus_mode=args.focus,
            captions=captions,
            caption_style=load_style(args.caption_style),
            preset=args.preset,
            crf=args.crf,
            chunk_s=args.chunk_s,
        )
        if spec.focus_mode == "auto" and spec.focus_track:
            raise InvalidRenderSpec("--focus auto makes its own track: drop --focus-track")
        info = render(
            args.src,
            spec,
            args.output,
            work_dir=args.work_dir,
            on_progress=bar,
            on_analysis=_tell_analysis,
        )
    except RenderError as exc:
        bar.close()
        print(f"reelay render: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        bar.close()
        print("reelay render: cancelled: interrupted", file=sys.stderr)
        return 130
    bar.close()
    print(
        f"{info.path}: {info.width}x{info.height}, {info.duration_s:.2f} s, "
        f"{info.size_bytes / 1e6:.2f} MB, {'with' if info.has_audio else 'no'} audio"
    )
    return 0
