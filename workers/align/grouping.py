"""Captions from timed words: short lines (at most ~42 characters) broken at pauses and at
the ends of sentences, as subtitle editors make them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from .aligner import TimedWord

MAX_CAPTION_CHARS = 42
#: A pause this long ends a caption; a sentence end does once it has this many characters.
PAUSE_S = 0.6
MIN_SENTENCE_CHARS = 12
_SENTENCE_END = (".", "!", "?", "…", "。", "！", "？", "؟")


def _word(word: TimedWord, offset_s: float) -> dict[str, Any]:
    return {
        "start_s": round(word.start_s + offset_s, 3),
        "end_s": round(word.end_s + offset_s, 3),
        "text": word.text,
    }


def _caption(
    words: Sequence[TimedWord],
    offset_s: float,
    start_s: float | None = None,
    end_s: float | None = None,
) -> dict[str, Any]:
    first = (
        words[0].start_s + offset_s
        if start_s is None
        else min(start_s, words[0].start_s + offset_s)
    )
    last = words[-1].end_s + offset_s if end_s is None else max(end_s, words[-1].end_s + offset_s)
    return {
        "start_s": round(first, 3),
        "end_s": round(last, 3),
        "text": " ".join(w.text for w in words),
        "words": [_word(w, offset_s) for w in words],
    }


def group_captions(words: Sequence[TimedWord], offset_s: float) -> list[dict[str, Any]]:
    """Captions (stored form, times plus ``offset_s``) holding every word once, in order."""
    captions: list[dict[str, Any]] = []
    current: list[TimedWord] = []
    for word in words:
        length = len(" ".join(w.text for w in [*current, word]))
        pause = bool(current) and word.start_s - current[-1].end_s >= PAUSE_S
        sentence = (
            bool(current)
            and current[-1].text.endswith(_SENTENCE_END)
            and (len(" ".join(w.text for w in current)) >= MIN_SENTENCE_CHARS)
        )
        if current and (length > MAX_CAPTION_CHARS or pause or sentence):
            captions.append(_caption(current, offset_s))
            current = []
        current.append(word)
    if current:
        captions.append(_caption(current, offset_s))
    return captions


def spread_over_captions(
    words: Sequence[TimedWord], captions: Sequence[dict[str, Any]], offset_s: float
) -> list[dict[str, Any]]:
    """The moment's own captions with ``words`` (their text's words, in order) written on:
    each caption keeps its text and grows to cover its words if they run past it."""
    out: list[dict[str, Any]] = []
    at = 0
    for caption in captions:
        count = len(str(caption["text"]).split())
        mine = words[at : at + count]
        at += count
        if not mine:
            out.append({k: caption[k] for k in ("start_s", "end_s", "text")})
            continue
        made = _caption(mine, offset_s, float(caption["start_s"]), float(caption["end_s"]))
        made["text"] = " ".join(str(caption["text"]).split())
        out.append(made)
    for before, after in itertools.pairwise(out):
        if before["end_s"] > after["start_s"] and before.get("words") and after.get("words"):
            before["end_s"] = max(
                before["words"][-1]["end_s"], min(before["end_s"], after["start_s"])
            )
    return out
