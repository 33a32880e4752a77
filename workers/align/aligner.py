"""Transcript words timed to speech.

English words go through PocketSphinx's forced aligner with the acoustic model and
dictionary its wheel ships (nothing is downloaded); words it does not know are placed
between their aligned neighbours by length. A transcript mostly outside the dictionary (another
language, another script) is spread over the voiced audio an energy detector finds, and says
so: ``method="spread"`` and a confidence of 0.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from pocketsphinx import Decoder

from .voice import spread, voiced_spans

#: Below this share of dictionary words the transcript is not treated as English.
MIN_KNOWN_SHARE = 0.6
_VARIANT = re.compile(r"\(\d+\)$")
#: A rough pronunciation for a word the dictionary lacks (names, made-up words): one phone
#: per letter, so the aligner has a path of about the right length through it.
_LETTER_PHONES = {
    "a": "AE", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F", "g": "G", "h": "HH",
    "i": "IH", "j": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "o": "AA", "p": "P",
    "q": "K", "r": "R", "s": "S", "t": "T", "u": "AH", "v": "V", "w": "W", "x": "K S",
    "y": "Y", "z": "Z",
}  # fmt: skip
_NOT_SPOKEN = re.compile(r"[^\w']+")


@dataclass(frozen=True)
class TimedWord:
    """A transcript word (as written) and when it is said, in seconds from the audio's start."""

    start_s: float
    end_s: float
    text: str
    confidence: float


@dataclass(frozen=True)
class Alignment:
    words: tuple[TimedWord, ...]
    method: Literal["forced", "spread"]

    @property
    def mean_confidence(self) -> float:
        if not self.words:
            return 0.0
        return float(sum(w.confidence for w in self.words) / len(self.words))


class NoSpeech(ValueError):
    """The audio holds nothing loud enough to be speech."""


def _spoken(word: str) -> str:
    """How the dictionary spells a written word: lower case, no punctuation around it."""
    folded = unicodedata.normalize("NFKC", word).lower().replace("’", "'")
    return _NOT_SPOKEN.sub("", folded).strip("'")


def _decoder(rate: int) -> Decoder:
    return Decoder(samprate=rate, loglevel="FATAL", bestpath=False)


def _forced(
    decoder: Decoder, pcm: npt.NDArray[np.int16], spoken: Sequence[str], frame_rate: int
) -> list[tuple[float, float, float]] | None:
    """``(start_s, end_s, confidence)`` per spoken word, or None when no path was found."""
    try:
        decoder.set_align_text(" ".join(spoken))
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), full_utt=True)
        decoder.end_utt()
        segments = [
            (_VARIANT.sub("", s.word), s.start_frame, s.end_frame, s.prob)
            for s in decoder.seg() or ()
        ]
    except (RuntimeError, ValueError):
        return None
    timed = [
        (start / frame_rate, (end + 1) / frame_rate, float(prob))
        for word, start, end, prob in segments
        if not word.startswith(("<", "[")) and word
    ]
    return timed if len(timed) == len(spoken) else None


def _fill_unknown(
    words: Sequence[str], known: dict[int, tuple[float, float, float]], duration_s: float
) -> list[TimedWord]:
    """Aligned words as they are; each run of unknown words shares the gap around it by length."""
    out: list[TimedWord] = []
    i = 0
    while i < len(words):
        if i in known:
            start, end, confidence = known[i]
            out.append(TimedWord(round(start, 3), round(end, 3), words[i], round(confidence, 3)))
            i += 1
            continue
        j = i
        while j < len(words) and j not in known:
            j += 1
        gap_start = out[-1].end_s if out else 0.0
        gap_end = known[j][0] if j in known else duration_s
        lengths = [len(w) + 1 for w in words[i:j]]
        step = max(0.0, gap_end - gap_start) / sum(lengths)
        at = gap_start
        for word, length in zip(words[i:j], lengths, strict=True):
            out.append(TimedWord(round(at, 3), round(at + step * length, 3), word, 0.0))
            at += step * length
        i = j
    return out


def _spell(decoder: Decoder, word: str) -> bool:
    """Teach the decoder ``word`` by its letters; False when it has none we can say."""
    phones = [_LETTER_PHONES[c] for c in word if c in _LETTER_PHONES]
    if not phones or len(phones) < len(word) / 2:
        return False
    decoder.add_word(word, " ".join(phones), True)
    return True


def align_words(pcm: npt.NDArray[np.int16], rate: int, transcript: str) -> Alignment:
    """Each word of ``transcript`` (split at white space) with its start and end in the
    audio. Raises NoSpeech when the audio is silent."""
    words = transcript.split()
    duration_s = len(pcm) / rate
    if not words:
        return Alignment((), "forced")
    spans = voiced_spans(pcm, rate)
    if not spans:
        raise NoSpeech("no speech was found in the moment's audio")
    decoder = _decoder(rate)
    # Digital silence (exact zeros) has no energy to normalise: the acoustic features
    # become -inf and the aligner finds no path. A least-significant-bit dither fixes it.
    dither = np.random.default_rng(0).integers(-2, 3, size=len(pcm), dtype=np.int16)
    pcm = np.clip(pcm.astype(np.int32) + dither, -32768, 32767).astype(np.int16)
    spoken = [_spoken(w) for w in words]
    in_dictionary = {i for i, s in enumerate(spoken) if s and decoder.lookup_word(s) is not None}
    if len(in_dictionary) >= MIN_KNOWN_SHARE * len(words):
        order = sorted(in_dictionary)
        frame_rate = int(decoder.config["frate"])
        timed = _forced(decoder, pcm, [spoken[i] for i in order], frame_rate)
        if timed is not None:
            known = dict(zip(order, timed, strict=True))
            return Alignment(tuple(_fill_unknown(words, known, duration_s)), "forced")
    placed = spread(words, spans)
    return Alignment(
        tuple(
            TimedWord(round(a, 3), round(b, 3), w, 0.0)
            for w, (a, b) in zip(words, placed, strict=True)
        ),
        "spread",
    )
