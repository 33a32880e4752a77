"""Word alignment on speech whose word boundaries are known (espeak-ng, words laid out with
known silences): accurate for English, honest about anything else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.speech import RATE, WORDS, Speech, needs_espeak, speak, speech_video
from workers.align import align_words, group_captions, load_speech, spread_over_captions
from workers.align.aligner import NoSpeech, TimedWord

pytestmark = needs_espeak


@pytest.fixture(scope="module")
def english() -> Speech:
    return speak()


def test_english_word_starts_are_within_the_bounds(english: Speech, tmp_path: Path) -> None:
    video = speech_video(tmp_path / "speech.mp4", english)
    pcm = load_speech(str(video), 0.0, english.duration_s)  # through the AAC track
    assert abs(len(pcm) / RATE - english.duration_s) < 0.05
    result = align_words(pcm, RATE, " ".join(WORDS))
    assert result.method == "forced"
    assert [w.text for w in result.words] == list(WORDS)
    errors = np.abs(np.array([w.start_s for w in result.words]) - np.array(english.starts_s))
    median, p90 = float(np.median(errors)), float(np.percentile(errors, 90))
    print(f"word-start error: median {median * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms")
    assert median <= 0.120
    assert p90 <= 0.250
    assert result.mean_confidence > 0.5
    for before, after in zip(result.words, result.words[1:], strict=False):
        assert before.start_s < before.end_s <= after.start_s + 1e-6


def test_a_moment_cut_from_the_middle_is_timed_from_its_own_start(
    english: Speech, tmp_path: Path
) -> None:
    video = speech_video(tmp_path / "speech.mp4", english)
    first, last = 10, 20  # words 10..19
    start_s = english.starts_s[first] - 0.2
    end_s = english.ends_s[last - 1] + 0.2
    pcm = load_speech(str(video), start_s, end_s)
    result = align_words(pcm, RATE, " ".join(english.words[first:last]))
    errors = [
        abs(w.start_s + start_s - truth)
        for w, truth in zip(result.words, english.starts_s[first:last], strict=True)
    ]
    assert float(np.median(errors)) <= 0.120


def test_punctuation_and_unknown_words_are_kept_and_placed_between_neighbours(
    english: Speech,
) -> None:
    written = list(WORDS)
    written[0] = "The"
    written[5] = "again,"
    written[8] = "Zorblax"  # not in the dictionary: aligned by its spelling
    written.insert(13, "—")  # nothing to say: placed between its neighbours
    result = align_words(english.pcm, RATE, " ".join(written))
    assert [w.text for w in result.words] == written
    assert result.method == "forced"
    assert abs(result.words[8].start_s - english.starts_s[8]) <= 0.25
    dash = result.words[13]
    assert dash.confidence == 0.0
    assert result.words[12].end_s <= dash.start_s < dash.end_s <= result.words[14].start_s
    del written[13]
    result = align_words(english.pcm, RATE, " ".join(written))
    errors = np.abs(np.array([w.start_s for w in result.words]) - np.array(english.starts_s))
    assert float(np.median(errors)) <= 0.120


def test_other_languages_are_spread_over_the_voiced_audio_and_say_so() -> None:
    words = ["добрый", "вечер", "друзья", "сегодня", "мы", "говорим", "о", "погоде"]
    speech = speak(words, voice="ru")
    result = align_words(speech.pcm, RATE, " ".join(words))
    assert result.method == "spread"
    assert result.mean_confidence == 0.0
    assert [w.text for w in result.words] == words
    assert result.words[0].start_s >= speech.starts_s[0] - 0.1
    assert result.words[-1].end_s <= speech.ends_s[-1] + 0.1
    for before, after in zip(result.words, result.words[1:], strict=False):
        assert before.start_s < before.end_s <= after.start_s + 1e-6


def test_silence_is_no_speech() -> None:
    with pytest.raises(NoSpeech):
        align_words(np.zeros(RATE * 3, dtype=np.int16), RATE, "hello world")


def _timed(texts: list[str], gaps: list[float]) -> list[TimedWord]:
    at, out = 0.0, []
    for text, gap in zip(texts, gaps, strict=True):
        out.append(TimedWord(at, at + 0.3, text, 1.0))
        at += 0.3 + gap
    return out


def test_captions_are_grouped_short_at_pauses_and_sentence_ends() -> None:
    texts = [
        "so",
        "this",
        "is",
        "how",
        "it",
        "starts.",
        "then",
        "a",
        "long",
        "pause",
        "comes",
        "here",
        "and",
        "the",
        "rest",
        "goes",
        "on",
    ]
    gaps = [0.05] * len(texts)
    gaps[10] = 1.0  # after "comes"
    captions = group_captions(_timed(texts, gaps), offset_s=100.0)
    assert " ".join(c["text"] for c in captions) == " ".join(texts)
    assert all(len(c["text"]) <= 42 for c in captions)
    assert captions[0]["text"] == "so this is how it starts."
    assert any(c["text"].endswith("comes") for c in captions)
    for caption in captions:
        assert caption["start_s"] >= 100.0
        assert caption["words"][0]["start_s"] == caption["start_s"]
        assert " ".join(w["text"] for w in caption["words"]) == caption["text"]


def test_words_land_on_the_moments_own_captions() -> None:
    own = [
        {"start_s": 10.0, "end_s": 10.5, "text": "hello  there"},
        {"start_s": 11.0, "end_s": 12.0, "text": "general kenobi"},
    ]
    words = _timed(["hello", "there", "general", "kenobi"], [0.05, 0.3, 0.05, 0.0])
    captions = spread_over_captions(words, own, offset_s=10.0)
    assert [c["text"] for c in captions] == ["hello there", "general kenobi"]
    assert [w["text"] for w in captions[1]["words"]] == ["general", "kenobi"]
    for caption in captions:
        assert caption["start_s"] <= caption["words"][0]["start_s"]
        assert caption["words"][-1]["end_s"] <= caption["end_s"]
