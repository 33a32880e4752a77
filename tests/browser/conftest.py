"""Debian's chromium driven by Playwright (never a downloaded browser), and a test page.

No chromium on a dev machine → the browser tests skip; with ``CI`` set they fail instead,
because CI installs chromium (``.ci/run``). The page under test is served by a real
server process from a temporary static dir holding ``reelay-client.js`` and ``page.html``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from server.app import STATIC_DIR
from tests.conftest import RedisServer
from tests.e2e.stack import Stack, start_stack, stop_stack
from tests.realtime.fixtures import log, tiny_video  # noqa: F401
from tests.realtime.servers import WebServer

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: The page loads its script from a file: the app's CSP allows no inline script or eval.
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>reelay-client test page</title>
<script type="module" src="/page.js"></script>
"""

PAGE_JS = """import { ReelayClient } from "/reelay-client.js";
window.seen = [];
window.connections = [];
window.snapshots = 0;
window.tokenCalls = 0;
window.errors = [];
window.start = async (projectId, options) => {
  const getToken = async () => { window.tokenCalls++; return window.token; };
  const client = new ReelayClient({ getToken, ...options });
  client.addEventListener("error", (e) => window.errors.push(e.detail));
  client.addEventListener("event", (e) => window.seen.push(e.detail.event.seq));
  client.addEventListener("connection", (e) => window.connections.push(e.detail.state));
  client.addEventListener("snapshot", () => window.snapshots++);
  window.client = client;
  await client.watch(projectId, options.since === undefined ? {} : { since: options.since });
};
window.pageReady = true;
"""


def find_chromium() -> str | None:
    candidates = ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    found = find_chromium()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; CI installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="module")
def page_server(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebServer]:
    """A server whose static dir holds the real client and the test page."""
    redis_server.start()
    tmp = tmp_path_factory.mktemp("browser-server")
    static = tmp / "static"
    static.mkdir()
    shutil.copy(STATIC_DIR / "reelay-client.js", static / "reelay-client.js")
    (static / "page.html").write_text(PAGE)
    (static / "page.js").write_text(PAGE_JS)
    server = WebServer(
        tmp,
        redis_url=redis_server.url,
        database_url=f"sqlite://{tmp / 'db.sqlite3'}",
        env={"REELAY_TEST_STATIC_DIR": str(static)},
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


# The page tests' fixtures (test_page.py, test_page_focus.py): a stack with workers per
# module, and a fresh tab that fails its test on any console error.


@pytest.fixture(scope="module")
def stack(
    redis_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    running = start_stack(
        tmp_path_factory.mktemp("page-stack"), redis_url=redis_url, database_url=database_url
    )
    try:
        yield running
    finally:
        stop_stack(running)


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh tab; the test fails if the page logged any console error or threw."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    opened = await context.new_page()
    problems: list[str] = []
    opened.on(
        "console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None
    )
    opened.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    yield opened
    await context.close()
    assert problems == [], problems
