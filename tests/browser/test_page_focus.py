"""The page's focus control in chromium: keyframes picked on the player drive the crop window
while it plays; "auto" on a moment exports a clip whose frames show the face centred.

The screenshot ``page-auto-reframe.png`` (in ``test-output/``) shows the finished export's
card with its clip paused on a frame: the astronaut's face in the middle of the 9:16 picture.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.async_api import Page

from tests.browser.test_page import (
    EXPORT_TIMEOUT_MS,
    dev_link,
    export,
    screenshot,
    wait_status,
)
from tests.e2e.stack import Stack
from tests.subject_media import make_subject_video, piecewise
from workers.render.faces import FaceDetector

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(300),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

#: The astronaut pans right, pauses, then jumps to the other side at 4 s.
WALK = piecewise([(0, 150), (0.5, 150), (3, 425), (4, 425), (4, 1250), (6, 1250)])


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("page-focus") / "walk.mp4"
    return make_subject_video(path, WALK, duration_s=6.0).path


async def open_with(page: Page, stack: Stack, user: str, video: Path) -> None:
    await page.goto(dev_link(stack, user))
    await page.wait_for_selector("#workspace:not([hidden])")
    await page.set_input_files("#file-input", str(video))
    await page.wait_for_selector("#moments:not([hidden])")
    await page.wait_for_function("() => document.getElementById('player').readyState >= 2")


async def seek(page: Page, t: float) -> None:
    await page.evaluate("t => { document.getElementById('player').currentTime = t; }", t)
    await page.wait_for_function(
        "t => Math.abs(document.getElementById('player').currentTime - t) < 0.05"
        " && !document.getElementById('player').seeking",
        arg=t,
    )


async def crop_centre(page: Page) -> float:
    """The crop window's centre, as a fraction of the player's width."""
    box: dict[str, str] = await page.eval_on_selector(
        "#crop-window", "w => ({left: w.style.left, width: w.style.width})"
    )
    return (float(box["left"][:-1]) + float(box["width"][:-1]) / 2) / 100


async def set_range(page: Page, start: float, end: float, title: str) -> None:
    for time, button in ((start, "#set-start"), (end, "#set-end")):
        await seek(page, time)
        await page.click(button)
    await page.fill("#moment-title", title)


async def test_keyframes_picked_on_the_player_move_the_crop_while_it_plays(
    page: Page, stack: Stack, walk: Path
) -> None:
    await open_with(page, stack, "focus-keys", walk)
    await page.check("input[name=focus-mode][value=keyframes]")
    overlay = page.locator("#crop-overlay")
    box = await overlay.bounding_box()
    assert box is not None
    for t, x in ((1.0, 0.3), (4.0, 0.7)):
        await seek(page, t)
        await page.click("#focus-pick")
        await overlay.click(position={"x": box["width"] * x, "y": box["height"] * 0.4})
    assert await page.locator("#focus-keyframe-list li").count() == 2
    await seek(page, 1.0)
    assert await crop_centre(page) == pytest.approx(0.3, abs=0.01)
    await seek(page, 2.5)
    middle = await crop_centre(page)
    assert 0.3 < middle < 0.7
    await seek(page, 0.9)
    await page.evaluate("() => document.getElementById('player').play()")
    seen = set()
    for _ in range(30):
        seen.add(round(await crop_centre(page), 3))
        await page.wait_for_timeout(100)
    await page.evaluate("() => document.getElementById('player').pause()")
    assert len(seen) >= 5, f"the crop window followed the track while playing: {seen}"

    await set_range(page, 0.5, 5.0, "Keyframed")
    await page.click("#moment-form button[type=submit]")
    await page.wait_for_selector("#moment-list label:has-text('Keyframed')")
    listed = await page.inner_text("#moment-list label:has-text('Keyframed') .moment-times")
    assert "focus track (2 keyframes)" in listed


async def test_auto_reframe_export_shows_the_face_centred(
    page: Page, stack: Stack, walk: Path
) -> None:
    await open_with(page, stack, "focus-auto", walk)
    await set_range(page, 0.0, 6.0, "Walk and talk")
    await page.check("input[name=focus-mode][value=auto]")
    assert await page.is_visible("#focus-auto-hint")
    await page.click("#moment-form button[type=submit]")
    await page.wait_for_selector("#moment-list label:has-text('Walk and talk') input:checked")
    assert "auto focus" in await page.inner_text("#moment-list .moment-times")
    [export_id] = await export(page, "9:16")
    card = f".export-card[data-export-id='{export_id}']"
    await wait_status(page, export_id, "completed")
    await page.wait_for_function(
        "s => document.querySelector(s)?.readyState >= 2",
        arg=f"{card} video",
        timeout=EXPORT_TIMEOUT_MS,
    )
    note = page.locator(f"{card} .export-focus")
    await note.wait_for(state="visible")
    assert "followed a track" in await note.inner_text()

    detector = FaceDetector()
    # still at 0.25 s, paused at 3.6 s, landed after the jump at 5.5 s: centred; mid-pan
    # (2 s) the camera trails inside its dead zone
    for t, (low, high) in (
        (0.25, (0.4, 0.6)),
        (2.0, (0.3, 0.7)),
        (3.6, (0.4, 0.6)),
        (5.5, (0.4, 0.6)),
    ):
        png = await page.eval_on_selector(
            f"{card} video",
            """async (v, t) => {
              v.pause();
              v.currentTime = t;
              await new Promise((done) => v.addEventListener("seeked", done, { once: true }));
              const canvas = document.createElement("canvas");
              canvas.width = v.videoWidth;
              canvas.height = v.videoHeight;
              canvas.getContext("2d").drawImage(v, 0, 0);
              return canvas.toDataURL("image/png");
            }""",
            t,
        )
        picture = Image.open(io.BytesIO(base64.b64decode(png.split(",", 1)[1]))).convert("RGB")
        assert picture.size == (720, 1280)
        faces = detector.detect(np.asarray(picture.resize((216, 384))))
        assert faces, f"no face in the clip at {t} s"
        assert low <= faces[0].cx <= high, f"the face is off-centre at {t} s: {faces[0]}"
    # the moment's preview: the source player's crop window follows the exported track
    await page.click("#moment-list li:has-text('Walk and talk') .moment-preview")
    await page.wait_for_function(
        "() => document.getElementById('moment-message').textContent"
        " === 'The crop follows the faces its latest export found.'"
    )
    for t, face_x in ((0.25, (150 + 227.5) / 1920), (5.5, (1250 + 227.5) / 1920)):
        await seek(page, t)
        centre = await crop_centre(page)
        assert abs(centre - max(face_x, 0.158)) < 0.05, (t, centre, face_x)
    await page.eval_on_selector(f"{card} video", "v => { v.currentTime = 3.6; }")
    await page.wait_for_timeout(300)
    await page.locator(card).scroll_into_view_if_needed()
    await screenshot(page, "page-auto-reframe")
