"""Caption geometry: words → pieces → lines that fit the safe area, in visual order.

A caption is wrapped by measured glyph widths at its style's size; when it would take more
than ``max_lines`` lines the font shrinks down to a floor, and past that the caption is split
into cues shown one after another (timed by its words, or by its characters). Each cue then
has states: the spans during which one word is lit (karaoke, pop) or none is.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .caption_fonts import FONT_FILES, face_for, font
from .spec import Caption, CaptionStyle

#: No caption pixel within this fraction of any edge of the frame.
SAFE_MARGIN = 0.05
#: Font size at ``size: 1.0``, as a fraction of the frame's short side.
BASE_SIZE = 0.06
#: The font may shrink to this fraction of the asked size before a caption is split in time.
SHRINK_FLOOR = 0.7
SHRINK_STEP = 0.92
MIN_FONT_PX = 12
#: ``pop`` shows at most this many words at once and draws the current one this much larger.
POP_WORDS = 3
POP_GROW = 1.25
#: ``pop`` phrases end after a word ending with one of these.
_PHRASE_END = (".", ",", "!", "?", ";", ":", "…", "。", "、", "！", "？", "،", "؟")


@dataclass(frozen=True)
class Piece:
    """A word, or a part of one too wide for a line, drawn with one font."""

    word: int  # index into the caption's words
    text: str
    face: str
    rtl: bool
    joins_previous: bool  # continues the previous piece's word: no space between them


@dataclass(frozen=True)
class State:
    """A span of a cue during which ``highlight`` (a word index, or None) is lit."""

    start_s: float
    end_s: float
    highlight: int | None


@dataclass(frozen=True)
class Cue:
    """What is on screen for one span: lines of pieces in visual (left-to-right) order."""

    start_s: float
    end_s: float
    size: int
    lines: tuple[tuple[Piece, ...], ...]
    states: tuple[State, ...]
    grow: float = 1.0  # the lit word's scale (pop)


def base_font_px(style: CaptionStyle, frame_w: int, frame_h: int) -> int:
    return max(MIN_FONT_PX, round(min(frame_w, frame_h) * BASE_SIZE * style.size))


def stroke_px(size: int) -> int:
    return max(2, size // 10)


def padding(style: CaptionStyle, size: int) -> tuple[int, int]:
    """Horizontal and vertical room around the text inside a caption image."""
    if style.preset == "box":
        return round(size * 0.45), round(size * 0.22)
    edge = stroke_px(size) + 2
    return edge, edge


def safe_box(frame_w: int, frame_h: int) -> tuple[int, int, int, int]:
    """The area captions may use: ``(left, top, right, bottom)``, right/bottom exclusive,
    even-aligned inward."""
    left = 2 * math.ceil(frame_w * SAFE_MARGIN / 2)
    top = 2 * math.ceil(frame_h * SAFE_MARGIN / 2)
    right = 2 * math.floor(frame_w * (1 - SAFE_MARGIN) / 2)
    bottom = 2 * math.floor(frame_h * (1 - SAFE_MARGIN) / 2)
    return left, top, right, bottom


@lru_cache(maxsize=8192)
def text_width(piece: Piece, size: int) -> float:
    return float(font(piece.face, size).getlength(piece.text))


@lru_cache(maxsize=64)
def space_width(size: int) -> float:
    return float(font(FONT_FILES[0], size).getlength(" "))


def _is_rtl(text: str) -> bool | None:
    """True/False by the first strong character; None when there is none."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return None


def _caption_words(caption: Caption) -> list[str]:
    return [w.text.strip() for w in caption.words] if caption.words else caption.text.split()


def _pieces(words: Sequence[str], first_index: int, size: int, max_width: float) -> list[Piece]:
    """Each word as one piece, or split by character where it is wider than a line."""
    pieces: list[Piece] = []
    for offset, text in enumerate(words):
        index = first_index + offset
        face = face_for(text)
        rtl = bool(_is_rtl(text))
        whole = Piece(index, text, face, rtl, False)
        if text_width(whole, size) <= max_width:
            pieces.append(whole)
            continue
        current = ""
        for char in text:
            candidate = Piece(index, current + char, face, rtl, False)
            if current and text_width(candidate, size) > max_width:
                pieces.append(
                    Piece(index, current, face, rtl, bool(pieces) and pieces[-1].word == index)
                )
                current = ""
            current += char
        if current:
            pieces.append(
                Piece(index, current, face, rtl, bool(pieces) and pieces[-1].word == index)
            )
    return pieces


def _wrap(pieces: Sequence[Piece], size: int, max_width: float) -> list[list[Piece]]:
    """Greedy lines in logical order, by measured width."""
    space = space_width(size)
    lines: list[list[Piece]] = []
    current: list[Piece] = []
    width = 0.0
    for piece in pieces:
        gap = 0.0 if not current or piece.joins_previous else space
        piece_w = text_width(piece, size)
        if current and width + gap + piece_w > max_width:
            lines.append(current)
            current, width, gap = [], 0.0, 0.0
        current.append(piece)
        width += gap + piece_w
    if current:
        lines.append(current)
    return lines


def visual_order(line: Sequence[Piece], base_rtl: bool) -> tuple[Piece, ...]:
    """Pieces left to right: runs of one direction, run order reversed on a right-to-left
    line (``base_rtl``: the caption's first strong character is right-to-left); neutral
    pieces (digits, punctuation) join the run before them."""
    runs: list[tuple[bool, list[Piece]]] = []
    for piece in line:
        direction = _is_rtl(piece.text)
        rtl = (runs[-1][0] if runs else base_rtl) if direction is None else direction
        if runs and runs[-1][0] == rtl:
            runs[-1][1].append(piece)
        else:
            runs.append((rtl, [piece]))
    ordered_runs = reversed(runs) if base_rtl else iter(runs)
    out: list[Piece] = []
    for rtl, pieces in ordered_runs:
        out.extend(reversed(pieces) if rtl else pieces)
    return tuple(out)


def fit_lines(
    words: Sequence[str],
    first_index: int,
    style: CaptionStyle,
    frame_w: int,
    frame_h: int,
    grow: float = 1.0,
) -> tuple[int, list[list[Piece]]]:
    """The largest font size, from the style's down to the floor, at which ``words`` take at
    most ``max_lines`` lines inside the safe width; at the floor, all the lines it takes."""
    size = base_font_px(style, frame_w, frame_h)
    floor = max(MIN_FONT_PX, math.floor(size * SHRINK_FLOOR))
    left, _, right, _ = safe_box(frame_w, frame_h)
    while True:
        pad_x, _ = padding(style, size)
        max_width = (right - left - 2 * pad_x - 2) / grow
        pieces = _pieces(words, first_index, size, max_width)
        lines = _wrap(pieces, size, max_width)
        if len(lines) <= style.max_lines or size <= floor:
            return size, _balanced(pieces, size, max_width, lines)
        size = max(floor, math.floor(size * SHRINK_STEP))


def _balanced(
    pieces: Sequence[Piece], size: int, max_width: float, lines: list[list[Piece]]
) -> list[list[Piece]]:
    """The same number of lines with the narrowest width that keeps it, so a caption does
    not end on one orphaned word."""
    if len(lines) < 2:
        return lines
    low, high = max(text_width(p, size) for p in pieces), max_width
    best = lines
    for _ in range(10):
        middle = (low + high) / 2
        trial = _wrap(pieces, size, middle)
        if len(trial) <= len(lines):
            best, high = trial, middle
        else:
            low = middle
    return best


class _Clock:
    """Source time at any point of a caption: by its words' timing when it has them, else
    spread over its characters."""

    def __init__(self, caption: Caption, words: Sequence[str]) -> None:
        self.caption = caption
        self.words = words
        self._chars_before = [0]
        for text in words:
            self._chars_before.append(self._chars_before[-1] + len(text))

    def word_time(self, index: int) -> tuple[float, float]:
        if self.caption.words:
            word = self.caption.words[index]
            return word.start_s, word.end_s
        return self._at_char(self._chars_before[index]), self._at_char(
            self._chars_before[index + 1]
        )

    def _at_char(self, chars: int) -> float:
        total = max(1, self._chars_before[-1])
        span = self.caption.end_s - self.caption.start_s
        return self.caption.start_s + span * chars / total

    def piece_start(self, pieces: Sequence[Piece], at: int) -> float:
        """When ``pieces[at]`` starts being said."""
        piece = pieces[at]
        start, end = self.word_time(piece.word)
        done = sum(len(p.text) for p in pieces[:at] if p.word == piece.word)
        return start + (end - start) * done / max(1, len(self.words[piece.word]))


def _states(
    start_s: float, end_s: float, words: Sequence[int], clock: _Clock | None
) -> tuple[State, ...]:
    """Spans lighting each word from its start to the next one's (the first span, before
    any word is said, lights none); one unlit span without a clock."""
    if clock is None or not words:
        return (State(start_s, end_s, None),)
    states: list[State] = []
    edges = [max(start_s, min(end_s, clock.word_time(w)[0])) for w in words]
    if edges[0] > start_s:
        states.append(State(start_s, edges[0], None))
    for i, word in enumerate(words):
        stop = edges[i + 1] if i + 1 < len(words) else end_s
        if stop > edges[i]:
            states.append(State(edges[i], stop, word))
    return tuple(states) or (State(start_s, end_s, None),)


def _split(
    caption: Caption,
    clock: _Clock,
    pieces_lines: list[list[Piece]],
    max_lines: int,
    start_s: float,
    end_s: float,
) -> Iterator[tuple[float, float, list[list[Piece]]]]:
    """Groups of at most ``max_lines`` lines, each shown from when its first piece is said
    until the next group's first piece is."""
    groups = [pieces_lines[i : i + max_lines] for i in range(0, len(pieces_lines), max_lines)]
    flat = [p for line in pieces_lines for p in line]
    starts: list[float] = []
    at = 0
    for group in groups:
        starts.append(clock.piece_start(flat, at))
        at += sum(len(line) for line in group)
    starts[0] = start_s
    for i, group in enumerate(groups):
        stop = starts[i + 1] if i + 1 < len(groups) else end_s
        begin = min(max(starts[i], start_s), end_s)
        stop = min(max(stop, begin), end_s)
        if stop > begin:
            yield begin, stop, group


def _cues_of(
    caption: Caption,
    words: Sequence[str],
    first_index: int,
    start_s: float,
    end_s: float,
    style: CaptionStyle,
    frame: tuple[int, int],
    lit: _Clock | None,
    grow: float,
) -> Iterator[Cue]:
    clock = _Clock(caption, _caption_words(caption))
    size, lines = fit_lines(words, first_index, style, *frame, grow=grow)
    base_rtl = bool(_is_rtl(caption.text))
    for begin, stop, group in _split(caption, clock, lines, style.max_lines, start_s, end_s):
        said = sorted({p.word for line in group for p in line})
        yield Cue(
            start_s=begin,
            end_s=stop,
            size=size,
            lines=tuple(visual_order(line, base_rtl) for line in group),
            states=_states(begin, stop, said, lit),
            grow=grow,
        )


def _phrases(words: Sequence[str]) -> Iterator[tuple[int, int]]:
    """``[first, end)`` word ranges of at most POP_WORDS, ending early after punctuation."""
    first = 0
    for i, text in enumerate(words):
        if i + 1 - first >= POP_WORDS or text.endswith(_PHRASE_END) or i == len(words) - 1:
            yield first, i + 1
            first = i + 1


def layout_caption(caption: Caption, style: CaptionStyle, frame_w: int, frame_h: int) -> list[Cue]:
    """The cues that show ``caption`` under ``style`` on a ``frame_w``×``frame_h`` picture."""
    words = _caption_words(caption)
    if not words:
        return []
    frame = (frame_w, frame_h)
    clock = _Clock(caption, words)
    if style.preset == "pop":
        cues: list[Cue] = []
        phrases = list(_phrases(words))
        starts = [clock.word_time(first)[0] for first, _ in phrases]
        starts[0] = caption.start_s
        for i, (first, end) in enumerate(phrases):
            stop = starts[i + 1] if i + 1 < len(phrases) else caption.end_s
            begin = min(max(starts[i], caption.start_s), caption.end_s)
            stop = min(max(stop, begin), caption.end_s)
            if stop > begin:
                cues.extend(
                    _cues_of(
                        caption, words[first:end], first, begin, stop, style, frame, clock, POP_GROW
                    )
                )
        return cues
    lit = clock if style.preset == "karaoke" and caption.words else None
    return list(_cues_of(caption, words, 0, caption.start_s, caption.end_s, style, frame, lit, 1.0))
