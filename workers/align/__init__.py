"""Word alignment, offline: a transcript's words timed to speech (PocketSphinx's forced
aligner for English, an energy voice detector spreading the words otherwise), and captions
grouped from timed words. A pure library: PCM in, timings out."""

from .aligner import Alignment, TimedWord, align_words
from .audio import SAMPLE_RATE, load_speech
from .grouping import group_captions, spread_over_captions

__all__ = [
    "SAMPLE_RATE",
    "Alignment",
    "TimedWord",
    "align_words",
    "group_captions",
    "load_speech",
    "spread_over_captions",
]
