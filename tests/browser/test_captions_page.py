"""Captions on the page, in a real chromium against a real stack with workers: load an SRT
onto a moment, pick karaoke, time the words to the audio, export, and the finished clip
shows the word being said in the highlight colour. Screenshot: ``page-karaoke.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from tests.browser.test_page import (
    EXPORT_TIMEOUT_MS,
    OUTPUT,
    add_moment,
    export,
    finished_video,
    screenshot,
    sign_in_and_upload,
    wait_status,
)
from tests.e2e.stack import Stack, start_stack, stop_stack
from tests.speech import Speech, needs_espeak, speak, speech_video

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(240),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    needs_espeak,
]

WORDS = ["the", "morning", "train", "was", "late", "again", "so", "we"]

#: Counts pixels of the highlight colour (#FFFF00 after H.264) in the lower half of the
#: finished clip's current frame, drawn on a canvas.
LIT_PIXELS = """selector => {
  const video = document.querySelector(selector);
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0);
  const { data } = context.getImageData(0, canvas.height / 2, canvas.width, canvas.height / 2);
  let lit = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] > 190 && data[i + 1] > 190 && data[i + 2] < 90) lit += 1;
  }
  return lit;
}"""


@pytest.fixture(scope="module")
def stack(
    redis_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    running = start_stack(
        tmp_path_factory.mktemp("captions-stack"), redis_url=redis_url, database_url=database_url
    )
    try:
        yield running
    finally:
        stop_stack(running)


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Speech]:
    speech = speak(WORDS, lead_s=1.0, tail_s=1.0)
    return speech_video(tmp_path_factory.mktemp("talk") / "talk.mp4", speech), speech


def _srt(speech: Speech, folder: Path) -> Path:
    def stamp(t: float) -> str:
        ms = round(t * 1000)
        return f"00:00:{ms // 1000:02d},{ms % 1000:03d}"

    halves = [(0, 4), (4, 8)]
    cues = [
        f"{n + 1}\n{stamp(speech.starts_s[a] - 0.1)} --> {stamp(speech.ends_s[b - 1] + 0.1)}\n"
        f"<i>{' '.join(speech.words[a:b])}</i>\n"
        for n, (a, b) in enumerate(halves)
    ]
    path = folder / "talk.srt"
    path.write_text("\n".join(cues), encoding="utf-8")
    return path


async def test_load_srt_pick_karaoke_time_words_export_and_see_them_lit(
    page: Page,
    stack: Stack,
    talk: tuple[Path, Speech],
    tmp_path: Path,
) -> None:
    video, speech = talk
    await sign_in_and_upload(page, stack, "page-karaoke", video)
    await add_moment(page, 0.5, speech.duration_s - 0.5, "Karaoke line")
    await page.click("#moment-list li:has-text('Karaoke line') .captions-button")
    await page.wait_for_selector("#captions-panel:not([hidden])")

    await page.set_input_files("#captions-file", str(_srt(speech, tmp_path)))
    await page.wait_for_function(
        "() => document.getElementById('captions-message').textContent.startsWith('Loaded 2')"
    )
    assert await page.locator("#captions-lines li").count() == 2
    assert "the morning train was" in await page.inner_text("#captions-lines")

    await page.select_option("#caption-preset", "karaoke")
    await page.wait_for_function(
        "() => document.getElementById('captions-message').textContent.includes('Time words')"
    )
    await page.click("#captions-align")
    await page.wait_for_function(
        "() => document.getElementById('captions-message').textContent.startsWith('Timed 8 words')",
        timeout=60_000,
    )
    assert "8 timed words" in await page.inner_text("#captions-summary")

    [moment] = (
        stack.client("page-karaoke")
        .get(
            f"/api/projects/{(stack.client('page-karaoke').get('/api/projects').json())['projects'][0]['id']}/moments"
        )
        .json()["moments"]
    )
    assert moment["caption_style"]["preset"] == "karaoke"
    words: list[dict[str, Any]] = [w for c in moment["captions"] for w in c["words"]]
    assert [w["text"] for w in words] == WORDS

    [export_id] = await export(page, "9:16")
    await wait_status(page, export_id, "completed")
    await finished_video(page, export_id)
    selector = f".export-card[data-export-id='{export_id}'] video"
    word = words[5]
    at = (word["start_s"] + word["end_s"]) / 2 - moment["start_s"]
    await page.eval_on_selector(selector, "(v, t) => { v.pause(); v.currentTime = t; }", at)
    await page.wait_for_function(
        "([s, t]) => { const v = document.querySelector(s); "
        "return Math.abs(v.currentTime - t) < 0.05 && !v.seeking && v.readyState >= 2; }",
        arg=[selector, at],
        timeout=EXPORT_TIMEOUT_MS,
    )
    lit = await page.evaluate(LIT_PIXELS, selector)
    assert lit > 150, f"only {lit} highlight-coloured pixels in the clip at {at:.2f} s"
    await page.locator(selector).scroll_into_view_if_needed()
    await screenshot(page, "page-karaoke")
    await page.eval_on_selector(selector, "v => { v.controls = false; }")
    await page.locator(selector).screenshot(path=str(OUTPUT / "page-karaoke-clip.png"))
