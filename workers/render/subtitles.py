"""Subtitle files (SRT, WebVTT, ASS/SSA) → captions in seconds, markup stripped.

``pysubs2`` parses; before it, a line-by-line check of the file's structure names the first
line that is not what its format allows (pysubs2 itself is lenient and would fold such a
line into a caption's text). WebVTT cue timestamps (``<00:00:01.200>``) become word timing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import pysubs2

from .spec import Caption, Word

SubtitleFormat = Literal["srt", "vtt", "ass", "ssa"]

_TIME = r"(?:\d+:)?\d{1,2}:\d{2}[,.]\d{1,3}"
_SRT_TIMING = re.compile(rf"^\s*({_TIME})\s*-->\s*({_TIME})(?:\s+.*)?$")
_VTT_TIMING = re.compile(
    r"^\s*((?:\d+:)?\d{2}:\d{2}\.\d{3})\s*-->\s*((?:\d+:)?\d{2}:\d{2}\.\d{3})(?:\s+.*)?$"
)
_VTT_STAMP = re.compile(r"<((?:\d+:)?\d{2}:\d{2}\.\d{3})>")
#: What a WebVTT cue timestamp becomes before pysubs2 reads the file (its reader would take a
#: line holding two stamps for a timing line): milliseconds between invisible separators.
_STAMP_MARK = re.compile("\u2063(\\d+)\u2063")
_ASS_TIME = re.compile(r"^\d+:\d{2}:\d{2}[.:]\d{1,3}$")


class SubtitlesInvalid(ValueError):
    """Not a subtitle file we read, or a malformed one; ``line`` is the first bad line
    (1-based) when one can be named."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line


@dataclass(frozen=True)
class Subtitles:
    format: SubtitleFormat
    captions: tuple[Caption, ...]


def _seconds(stamp: str) -> float:
    parts = stamp.replace(",", ".").split(":")
    seconds = float(parts[-1])
    for i, part in enumerate(reversed(parts[:-1])):
        seconds += int(part) * 60 ** (i + 1)
    return seconds


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise SubtitlesInvalid("not a subtitle file (binary data)", 1)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _detect(lines: list[str]) -> SubtitleFormat:
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise SubtitlesInvalid("the file is empty")
    head = lines[first].strip()
    if head.startswith("WEBVTT"):
        return "vtt"
    if head.lower() == "[script info]" or any(line.strip() == "[Events]" for line in lines):
        text = "\n".join(lines[:40]).lower()
        return "ass" if "v4+ styles" in text or "scripttype: v4.00+" in text else "ssa"
    if head.isdigit() or _SRT_TIMING.match(head):
        return "srt"
    raise SubtitlesInvalid("not a subtitle file (expected SRT, WebVTT or ASS/SSA)", first + 1)


def _blocks(lines: list[str], start: int = 0) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines with the 0-based index of their first line."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    for i in range(start, len(lines)):
        if lines[i].strip():
            if not current:
                blocks.append((i, current))
            current.append(lines[i])
        else:
            current = []
    return blocks


def _check_timing(match: re.Match[str], number: int) -> None:
    if _seconds(match.group(2)) <= _seconds(match.group(1)):
        raise SubtitlesInvalid("the cue ends before it starts", number)


def _check_srt(lines: list[str]) -> None:
    seen_cue = False
    for first, block in _blocks(lines):
        timing_at = 1 if block[0].strip().isdigit() and len(block) > 1 else 0
        match = _SRT_TIMING.match(block[timing_at])
        if match:
            _check_timing(match, first + timing_at + 1)
            seen_cue = True
        elif not seen_cue or "-->" in block[timing_at] or block[0].strip().isdigit():
            raise SubtitlesInvalid(
                f"expected a cue timing such as 00:00:01,000 --> 00:00:02,000, got "
                f"{block[timing_at].strip()[:60]!r}",
                first + timing_at + 1,
            )
        for offset, line in enumerate(block[timing_at + 1 :], start=timing_at + 1):
            if "-->" in line and _SRT_TIMING.match(line) is None:
                raise SubtitlesInvalid("a malformed cue timing", first + offset + 1)


def _check_vtt(lines: list[str]) -> None:
    first_line = next(i for i, line in enumerate(lines) if line.strip())
    for first, block in _blocks(lines, first_line + 1):
        head = block[0].strip()
        if head.startswith(("NOTE", "STYLE", "REGION")) and "-->" not in head:
            continue
        timing_at = 0 if "-->" in head else 1
        if timing_at >= len(block) or not (match := _VTT_TIMING.match(block[timing_at])):
            where = min(timing_at, len(block) - 1)
            raise SubtitlesInvalid(
                "expected a cue timing such as 00:00:01.000 --> 00:00:02.000", first + where + 1
            )
        _check_timing(match, first + timing_at + 1)
        start, end = _seconds(match.group(1)), _seconds(match.group(2))
        previous = start
        for offset, line in enumerate(block[timing_at + 1 :], start=timing_at + 1):
            for stamp in _VTT_STAMP.findall(line):
                at = _seconds(stamp)
                if not previous <= at <= end:
                    raise SubtitlesInvalid(
                        "a word timestamp outside its cue or out of order", first + offset + 1
                    )
                previous = at


def _check_ass(lines: list[str]) -> None:
    events = next((i for i, line in enumerate(lines) if line.strip() == "[Events]"), None)
    if events is None:
        raise SubtitlesInvalid("no [Events] section")
    fields: list[str] | None = None
    for i in range(events + 1, len(lines)):
        line = lines[i].strip()
        if line.startswith("["):
            break
        if line.startswith("Format:"):
            fields = [f.strip().lower() for f in line[len("Format:") :].split(",")]
        elif line.startswith(("Dialogue:", "Comment:")):
            if fields is None:
                raise SubtitlesInvalid("an event before the Format line", i + 1)
            values = line.split(":", 1)[1].split(",", len(fields) - 1)
            if len(values) < len(fields) or "start" not in fields or "end" not in fields:
                raise SubtitlesInvalid("an event with missing fields", i + 1)
            start = values[fields.index("start")].strip()
            end = values[fields.index("end")].strip()
            if not (_ASS_TIME.match(start) and _ASS_TIME.match(end)):
                raise SubtitlesInvalid("an event with a malformed time", i + 1)


def _words(raw: str, start_s: float, end_s: float) -> tuple[str, tuple[Word, ...]]:
    """Plain text, and its words timed by the cue's ``<hh:mm:ss.ttt>`` stamps (none: ())."""
    parts = _STAMP_MARK.split(raw)  # text, stamp (ms), text, stamp, text …
    text = " ".join(_STAMP_MARK.sub("", raw).split())
    if len(parts) == 1:
        return text, ()
    segments = [(start_s, parts[0])] + [
        (int(parts[i]) / 1000, parts[i + 1]) for i in range(1, len(parts) - 1, 2)
    ]
    # each word starts in the segment where its first character is
    starts: list[float] = []
    joined, previous_space = "", True
    for at, chunk in segments:
        for char in chunk:
            if not char.isspace() and previous_space:
                starts.append(at)
            previous_space = char.isspace()
            joined += char
    words = joined.split()
    timed: list[Word] = []
    for i, word in enumerate(words):
        same = [j for j in range(len(words)) if starts[j] == starts[i]]
        stop = next((starts[j] for j in range(i + 1, len(words)) if starts[j] > starts[i]), end_s)
        share = (stop - starts[i]) / len(same)
        begin = starts[i] + share * same.index(i)
        timed.append(Word(round(begin, 3), round(begin + share, 3), word))
    return text, tuple(timed)


_CHECKS = {"srt": _check_srt, "vtt": _check_vtt, "ass": _check_ass, "ssa": _check_ass}


def parse_subtitles(data: bytes, offset_s: float = 0.0) -> Subtitles:
    """The captions of a subtitle file, times in seconds plus ``offset_s``; cues that end
    before 0 once shifted are dropped. Raises SubtitlesInvalid."""
    text = _decode(data)
    lines = text.splitlines()
    kind = _detect(lines)
    _CHECKS[kind](lines)
    if kind == "vtt":
        text = _VTT_STAMP.sub(lambda m: f"\u2063{round(_seconds(m.group(1)) * 1000)}\u2063", text)
    try:
        parsed = pysubs2.SSAFile.from_string(text, format_=kind)
    except (pysubs2.exceptions.Pysubs2Error, ValueError, IndexError) as exc:
        raise SubtitlesInvalid(f"not a readable {kind.upper()} file") from exc
    captions: list[Caption] = []
    for event in parsed:
        if event.is_comment:
            continue
        start_s, end_s = event.start / 1000 + offset_s, event.end / 1000 + offset_s
        plain, words = _words(event.plaintext, event.start / 1000, event.end / 1000)
        if not plain or end_s <= max(0.0, start_s) or end_s <= start_s:
            continue
        shifted = tuple(
            Word(round(w.start_s + offset_s, 3), round(w.end_s + offset_s, 3), w.text)
            for w in words
        )
        if shifted and shifted[0].start_s < 0:
            shifted = ()
        captions.append(Caption(round(max(0.0, start_s), 3), round(end_s, 3), plain, shifted))
    if not captions:
        raise SubtitlesInvalid("the file holds no captions")
    return Subtitles(kind, tuple(captions))
