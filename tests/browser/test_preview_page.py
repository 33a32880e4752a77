"""Watching an export while it renders (issue 14), in a real chromium against ``reelay dev``.

The export card plays the growing HLS preview from signed URLs while the export is still
running, then streams the finished MP4 from a signed URL (no blob in memory) with seeking.
The stack renders with a slow x264 preset so the preview has time to play. The screenshot
lands in ``test-output/page-preview.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page

from tests.browser.test_page import (
    EXPORT_TIMEOUT_MS,
    add_moment,
    export,
    finished_video,
    history,
    screenshot,
    sign_in_and_upload,
    wait_status,
)
from tests.e2e.stack import Stack, start_stack, stop_stack
from tests.media import make_video

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(240),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

#: Slow enough that an export is still running after its preview has played a while.
SLOW_RENDER = {"REELAY_RENDER_PRESET": "slow", "REELAY_CHUNK_S": "1"}
CLIP_S = 11.0


@pytest.fixture(scope="module")
def slow_stack(
    redis_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    running = start_stack(
        tmp_path_factory.mktemp("preview-stack"),
        redis_url=redis_url,
        database_url=database_url,
        extra_env=SLOW_RENDER,
    )
    try:
        yield running
    finally:
        stop_stack(running)


@pytest.fixture(scope="module")
def wide_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 s at 960×540: an 11 s moment renders as eleven 1 s chunks at 1080p."""
    return make_video(
        tmp_path_factory.mktemp("preview-media") / "wide.mp4",
        duration_s=12.0,
        width=960,
        height=540,
    )


def fetch_without_token(url: str, base_url: str) -> httpx.Response:
    """A signed URL as a player fetches it: no Authorization header, first bytes only."""
    return httpx.get(httpx.URL(base_url).join(url), headers={"Range": "bytes=0-15"}, timeout=10)


async def test_running_export_plays_its_preview_then_streams_the_finished_mp4(
    page: Page,
    slow_stack: Stack,
    wide_clip: Path,
) -> None:
    user = "preview-pat"
    api = slow_stack.client(user)
    await sign_in_and_upload(page, slow_stack, user, wide_clip)
    await add_moment(page, 0.0, CLIP_S, "Watch me render")
    [export_id] = await export(page, "16:9", "1080p")
    card = f".export-card[data-export-id='{export_id}']"
    video = f"{card} .clip-player:not([hidden]) video"

    await page.wait_for_selector(video, timeout=EXPORT_TIMEOUT_MS)
    assert (await page.inner_text(f"{card} .clip-caption")).startswith("Preview — still rendering")
    await page.wait_for_function(
        """([s, card]) => document.querySelector(s)?.currentTime > 1
            || document.querySelector(card).dataset.status !== 'running'""",
        arg=[video, card],
        timeout=EXPORT_TIMEOUT_MS,
    )
    status = api.get(f"/api/exports/{export_id}").json()["status"]
    playing = await page.eval_on_selector(
        video,
        """v => ({time: v.currentTime, src: v.currentSrc, poster: v.getAttribute('poster'),
                  label: v.getAttribute('aria-label')})""",
    )
    assert status == "running" and playing["time"] > 1, (status, playing)
    assert playing["src"].startswith("blob:"), "hls.js feeds the preview through MSE"
    assert playing["label"] == "Preview of Watch me render, still rendering"
    assert playing["poster"], "the poster shows before the preview plays"
    poster = fetch_without_token(playing["poster"], slow_stack.base_url)
    assert poster.status_code in (200, 206) and poster.content[:2] == b"\xff\xd8", poster
    await screenshot(page, "page-preview")

    await wait_status(page, export_id, "completed")
    finished = await finished_video(page, export_id)
    assert abs(finished["duration"] - CLIP_S) < 0.2, finished
    src = await page.eval_on_selector(video, "v => v.currentSrc")
    assert src and not src.startswith("blob:"), src
    mp4 = fetch_without_token(src, slow_stack.base_url)
    assert mp4.status_code == 206 and mp4.content[4:8] == b"ftyp", mp4
    link = await page.get_attribute(f"{card} .download-link", "href")
    assert link and not link.startswith("blob:"), link
    assert await page.is_hidden(f"{card} .clip-caption"), "no longer a preview"

    target = CLIP_S - 1.0
    await page.eval_on_selector(
        video, "(v, t) => { v.pause(); v.muted = true; v.currentTime = t; }", target
    )
    await page.wait_for_function(
        "([s, t]) => { const v = document.querySelector(s);"
        " return !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - t) < 0.1; }",
        arg=[video, target],
        timeout=20_000,
    )
    await page.eval_on_selector(video, "v => v.play()")
    await page.wait_for_function(
        "([s, t]) => { const v = document.querySelector(s);"
        " return v.ended || v.currentTime > t + 0.3; }",
        arg=[video, target],
        timeout=20_000,
    )
    seen = await history(page, export_id)
    assert seen["progress"] == sorted(seen["progress"]), "progress never goes backwards"
    assert seen["status"][-1] == "completed"
