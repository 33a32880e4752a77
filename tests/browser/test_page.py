"""The page (static/) in a real chromium against a real ``reelay dev`` stack with workers.

A person's path through it: sign in from the dev link, upload a generated clip, mark a
moment with captions, export two aspects, watch progress, play and download the results,
cancel one, and keep working when the WebSocket is blocked (polling fallback).
Screenshots land in ``test-output/`` (gitignored).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute

from server.adapters.auth import issue_token
from tests.e2e.stack import JWT_SECRET, Stack
from tests.media import make_video

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(180),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
#: Page knobs (static/config.js): poll every second, retry a failing socket quickly.
FAST = "poll=1&retry=50"
EXPORT_TIMEOUT_MS = 90_000

#: Records every value each export card's progress and status took, as the DOM changed.
RECORDER = """() => {
  window.history_ = {};
  const note = (card) => {
    const id = card.dataset.exportId;
    const h = (window.history_[id] ??= { progress: [], status: [] });
    const p = Number(card.dataset.progress);
    if (h.progress.at(-1) !== p) h.progress.push(p);
    if (h.status.at(-1) !== card.dataset.status) h.status.push(card.dataset.status);
  };
  new MutationObserver((changes) => {
    for (const change of changes) {
      const card = change.target.closest?.(".export-card");
      if (card) note(card);
      for (const node of change.addedNodes) if (node.classList?.contains("export-card")) note(node);
    }
  }).observe(document.getElementById("export-list"), {
    subtree: true, childList: true, attributes: true,
    attributeFilter: ["data-progress", "data-status"],
  });
}"""

#: Records the upload bar's values and that it was shown while the file went up.
UPLOAD_RECORDER = """() => {
  window.upload_ = { values: [], shown: false };
  const bar = document.getElementById("upload-progress");
  new MutationObserver(() => {
    window.upload_.values.push(bar.value);
    window.upload_.shown ||= !document.getElementById("upload-status").hidden;
  }).observe(bar, { attributes: true, attributeFilter: ["value"] });
}"""


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s, 320×240, stereo tone: several 1 s chunks per export."""
    return make_video(tmp_path_factory.mktemp("page-media") / "clip.mp4", duration_s=6.0)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s, so a 1080p export runs long enough to cancel."""
    return make_video(tmp_path_factory.mktemp("page-media") / "long.mp4", duration_s=20.0)


def dev_link(stack: Stack, user: str, query: str = FAST) -> str:
    """What ``reelay dev`` prints: the page with a token in the fragment."""
    token = issue_token(JWT_SECRET, user, ttl_s=3600)
    return f"{stack.base_url}/?{query}#token={token}"


async def sign_in_and_upload(page: Page, stack: Stack, user: str, video: Path) -> None:
    await page.goto(dev_link(stack, user))
    await page.wait_for_selector("#workspace:not([hidden])")
    assert "#token=" not in page.url, "the token stays out of the address bar"
    await page.evaluate(UPLOAD_RECORDER)
    await page.set_input_files("#file-input", str(video))
    await page.wait_for_selector("#moments:not([hidden])")
    await page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    await page.evaluate(RECORDER)


async def add_moment(
    page: Page, start: float, end: float, title: str, captions: str = "", focus: float = 0.5
) -> None:
    """Mark a moment, taking start and end from the player's position."""
    for time, button in ((start, "#set-start"), (end, "#set-end")):
        await page.evaluate("t => { document.getElementById('player').currentTime = t; }", time)
        await page.wait_for_function(
            "t => Math.abs(document.getElementById('player').currentTime - t) < 0.05", arg=time
        )
        await page.click(button)
    await page.fill("#moment-title", title)
    await page.fill("#moment-captions", captions)
    await page.locator("#moment-focus").fill(str(focus))
    await page.click("#moment-form button[type=submit]")
    await page.wait_for_selector(f"#moment-list label:has-text('{title}') input:checked")


async def export(page: Page, aspect: str, resolution: str = "720p") -> list[str]:
    """Click Export; the page answers at once. Returns the new export ids."""
    before = set(await card_ids(page))
    await page.select_option("#export-aspect", aspect)
    await page.select_option("#export-resolution", resolution)
    await page.click("#export-button")
    await page.wait_for_function(
        "() => document.getElementById('export-message').textContent.startsWith('Export started')",
        timeout=5000,
    )
    return [i for i in await card_ids(page) if i not in before]


async def screenshot(page: Page, name: str) -> None:
    """The whole page as ``test-output/<name>.png``, transitions settled."""
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True, animations="disabled")


async def card_ids(page: Page) -> list[str]:
    ids: list[str] = await page.eval_on_selector_all(
        ".export-card", "cards => cards.map(c => c.dataset.exportId)"
    )
    return ids


async def wait_status(page: Page, export_id: str, status: str) -> None:
    await page.wait_for_selector(
        f".export-card[data-export-id='{export_id}'][data-status='{status}']",
        timeout=EXPORT_TIMEOUT_MS,
    )


async def history(page: Page, export_id: str) -> dict[str, list[Any]]:
    recorded: dict[str, list[Any]] = await page.evaluate("id => window.history_[id]", export_id)
    return recorded


async def finished_video(page: Page, export_id: str) -> dict[str, float]:
    """The exported clip's <video> once it can play: readyState and duration."""
    selector = f".export-card[data-export-id='{export_id}'] video"
    await page.wait_for_function(
        "s => document.querySelector(s)?.readyState >= 2", arg=selector, timeout=EXPORT_TIMEOUT_MS
    )
    state: dict[str, float] = await page.eval_on_selector(
        selector, "v => ({readyState: v.readyState, duration: v.duration})"
    )
    return state


async def test_upload_mark_export_two_aspects_play_and_download(
    page: Page, stack: Stack, clip: Path
) -> None:
    await sign_in_and_upload(page, stack, "page-alice", clip)
    upload = await page.evaluate("() => window.upload_")
    assert upload["shown"] and upload["values"][-1] == 1, upload
    assert await page.inner_text("#upload-message") == "Uploaded clip.mp4."
    facts = await page.inner_text("#source-facts")
    assert "0:06" in facts and "320×240" in facts
    await page.wait_for_function(
        "() => document.querySelector('#connection-text').textContent === 'Live'"
    )

    await add_moment(
        page, 0.5, 5.5, "Opening line", "0.6 2.0 Hello there\n2.2 5.0 Welcome back", focus=0.3
    )
    crop = await page.eval_on_selector("#crop-window", "w => w.style.width")
    assert crop.endswith("%") and float(crop[:-1]) < 50, "9:16 keeps a narrow strip of 4:3"

    vertical = await export(page, "9:16")
    square = await export(page, "1:1")
    assert len(vertical) == 1 and len(square) == 1
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.export-card')].some(c => "
        "Number(c.dataset.progress) >= 0.3 && Number(c.dataset.progress) < 1)",
        timeout=EXPORT_TIMEOUT_MS,
    )
    await screenshot(page, "page-mid-export")

    for export_id, size in ((vertical[0], (720, 1280)), (square[0], (720, 720))):
        await wait_status(page, export_id, "completed")
        video = await finished_video(page, export_id)
        assert abs(video["duration"] - 5.0) < 0.2, video
        dims = await page.eval_on_selector(
            f".export-card[data-export-id='{export_id}'] video",
            "v => [v.videoWidth, v.videoHeight]",
        )
        assert tuple(dims) == size
        seen = await history(page, export_id)
        assert seen["progress"] == sorted(seen["progress"]), "progress never goes backwards"
        assert any(0 < p < 1 for p in seen["progress"]), seen
        assert seen["status"][-1] == "completed"
    chunks = await page.inner_text(f".export-card[data-export-id='{vertical[0]}'] .stat-chunks")
    done, total = chunks.removeprefix("Chunks ").split("/")
    assert done == total and int(total) >= 2, chunks

    async with page.expect_download() as download_info:
        await page.click(f".export-card[data-export-id='{vertical[0]}'] .download-link")
    download = await download_info.value
    saved = OUTPUT / "page-download.mp4"
    await download.save_as(saved)
    assert saved.read_bytes()[4:8] == b"ftyp"
    await screenshot(page, "page-after-export")

    # Past exports appear on load, finished ones with their player.
    await page.reload()
    await page.wait_for_selector(
        f".export-card[data-export-id='{square[0]}'][data-status=completed]"
    )
    assert len(await card_ids(page)) == 2
    assert (await finished_video(page, square[0]))["readyState"] >= 2


async def test_cancel_with_confirmation_then_retry(
    page: Page, stack: Stack, long_clip: Path
) -> None:
    await sign_in_and_upload(page, stack, "page-bob", long_clip)
    await add_moment(page, 0.0, 19.0, "Long take")
    [export_id] = await export(page, "16:9", "1080p")
    card = f".export-card[data-export-id='{export_id}']"
    await wait_status(page, export_id, "running")

    await page.click(f"{card} .cancel-button")
    await page.click("#confirm-dialog button[value=keep]")
    assert await page.get_attribute(card, "data-status") == "running", "keeping is a no-op"
    await page.click(f"{card} .cancel-button")
    await page.click("#confirm-dialog button[value=cancel]")
    await wait_status(page, export_id, "cancelled")
    seen = await history(page, export_id)
    assert seen["status"][-2:] == ["cancelling", "cancelled"], seen
    assert await page.is_hidden(f"{card} .cancel-button")

    await page.click(f"{card} .retry-button")
    await page.wait_for_selector(f"{card}:not([data-status=cancelled])")
    await page.click(f"{card} .cancel-button")
    await page.click("#confirm-dialog button[value=cancel]")
    await wait_status(page, export_id, "cancelled")


async def test_failed_export_says_why_and_retry_finishes(
    page: Page, stack: Stack, clip: Path
) -> None:
    await sign_in_and_upload(page, stack, "page-fay", clip)
    [project] = stack.client("page-fay").get("/api/projects").json()["projects"]
    [source] = (stack.data_dir / "media" / "projects" / project["id"]).glob("source*")
    hidden = source.with_name("moved-away")
    source.rename(hidden)
    await add_moment(page, 1.0, 3.0, "Doomed")
    [export_id] = await export(page, "1:1")
    card = f".export-card[data-export-id='{export_id}']"
    await wait_status(page, export_id, "failed")
    message = await page.inner_text(f"{card} .export-error")
    assert message.startswith("The source video could not be read"), message
    assert await page.is_hidden(f"{card} .cancel-button")

    hidden.rename(source)
    await page.click(f"{card} .retry-button")
    await wait_status(page, export_id, "completed")
    assert await page.is_hidden(f"{card} .export-error")
    assert (await finished_video(page, export_id))["readyState"] >= 2


async def test_blocked_websocket_falls_back_to_polling_and_still_finishes(
    page: Page, stack: Stack, clip: Path
) -> None:
    async def refuse(socket: WebSocketRoute) -> None:
        await socket.close(code=1011, reason="blocked by the test")

    await page.route_web_socket("**/ws", refuse)
    await sign_in_and_upload(page, stack, "page-carol", clip)
    await page.wait_for_function(
        "() => document.getElementById('connection').dataset.state === 'polling'",
        timeout=15_000,
    )
    assert await page.inner_text("#connection-text") == "Polling every 1 s"

    await add_moment(page, 1.0, 4.0, "Polled", "1.5 3.5 Still here")
    [export_id] = await export(page, "4:5")
    await wait_status(page, export_id, "completed")
    assert (await finished_video(page, export_id))["readyState"] >= 2
    await screenshot(page, "page-polling")


async def test_phone_width_and_labelled_controls(
    browser: Browser, stack: Stack, clip: Path
) -> None:
    context = await browser.new_context(viewport={"width": 375, "height": 812})
    page = await context.new_page()
    try:
        await sign_in_and_upload(page, stack, "page-dave", clip)
        await add_moment(page, 0.0, 2.0, "Short")
        [export_id] = await export(page, "9:16")
        await finished_video(page, export_id)
        overflow = await page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, "no sideways scrolling at phone width"
        unlabelled = await page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                .filter(c => c.type !== 'hidden' && !c.labels?.length
                             && !c.getAttribute('aria-label'))
                .map(c => c.id)"""
        )
        assert unlabelled == []
        await screenshot(page, "page-phone")
    finally:
        await context.close()


async def test_sign_in_with_a_pasted_token(page: Page, stack: Stack) -> None:
    await page.goto(f"{stack.base_url}/?{FAST}")
    await page.wait_for_selector("#signin:not([hidden])")
    assert await page.is_hidden("#workspace")
    await page.fill("#token-input", issue_token(JWT_SECRET, "page-erin", ttl_s=-60))
    await page.click("#signin-form button[type=submit]")
    assert "expired" in await page.inner_text("#signin-message")
    await page.fill("#token-input", issue_token(JWT_SECRET, "page-erin", ttl_s=600))
    await page.press("#token-input", "Enter")
    await page.wait_for_selector("#workspace:not([hidden])")
    assert await page.inner_text("#whoami") == "Signed in as page-erin"
    assert await page.is_visible("#dropzone"), "a new user starts with an upload"
    assert await page.is_hidden("#connection"), "nothing to follow yet"
