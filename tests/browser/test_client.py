"""reelay-client.js in a real chromium: live, blocked socket → polling, server restart."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute

from server.domain.events import EventLog
from tests.realtime.fixtures import create_project, token
from tests.realtime.servers import WebServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

FAST = {"backoffBaseMs": 50, "backoffMaxMs": 400, "pollIntervalMs": 300}


async def open_page(browser: Browser, server: WebServer, user: str = "alice") -> Page:
    page = await browser.new_page()
    await page.goto(f"{server.base_url}/page.html")
    await page.wait_for_function("() => window.pageReady === true")
    await page.evaluate("(t) => { window.token = t; }", token(user))
    return page


async def start(page: Page, project: str, **options: Any) -> None:
    await page.evaluate("([p, o]) => window.start(p, o)", [project, options])


async def seen_until(page: Page, count: int, timeout_s: float = 20) -> list[int]:
    await page.wait_for_function(f"() => window.seen.length >= {count}", timeout=timeout_s * 1000)
    seen: list[int] = await page.evaluate("window.seen")
    return seen


async def export_story(log: EventLog, project: str, export_id: str) -> None:
    await log.append(project, "export.queued", export_id=export_id)
    await log.append(project, "export.started", export_id=export_id)
    for done in (1, 2):
        data = {"chunks_done": done, "chunks_total": 2, "progress": done / 2, "eta_s": 1.0}
        await log.append(project, "export.progress", export_id=export_id, data=data)
    await log.append(
        project, "export.completed", export_id=export_id, data={"video_url": "/v", "width": 720}
    )


async def test_live_socket_applies_every_event_once_in_order(
    browser: Browser, page_server: WebServer, log: EventLog, tiny_video: Path
) -> None:
    project = create_project(page_server.base_url, "alice", tiny_video)
    page = await open_page(browser, page_server)
    await start(page, project, since=0, **FAST)
    await page.wait_for_function("() => window.client.connection === 'live'")
    await export_story(log, project, "exp_live")
    assert await seen_until(page, 5) == [1, 2, 3, 4, 5]
    state = await page.evaluate("window.client.exportState('exp_live')")
    assert state["status"] == "completed" and state["progress"] == 1
    assert state["video_url"] == "/v" and state["chunks_done"] == 2
    assert await page.evaluate("window.connections") == ["live"]


async def test_blocked_socket_falls_back_to_polling_and_misses_nothing(
    browser: Browser, page_server: WebServer, log: EventLog, tiny_video: Path
) -> None:
    project = create_project(page_server.base_url, "alice", tiny_video)
    await log.append(project, "export.queued", export_id="exp_poll")
    page = await open_page(browser, page_server)
    attempts = 0

    async def refuse(ws: WebSocketRoute) -> None:
        nonlocal attempts
        attempts += 1
        await ws.close(code=1011, reason="blocked by the test")

    await page.route_web_socket(re.compile(r".*/ws$"), refuse)
    await start(page, project, since=0, maxSocketFailures=2, probeIntervalMs=500, **FAST)
    await page.wait_for_function("() => window.client.connection === 'polling'")
    await export_story(log, project, "exp_poll")
    assert await seen_until(page, 6) == [1, 2, 3, 4, 5, 6]
    state = await page.evaluate("window.client.exportState('exp_poll')")
    assert state["status"] == "completed"
    assert await page.evaluate("window.client.connection") == "polling"
    for _ in range(50):  # it keeps probing the socket while polling
        if attempts >= 4:
            break
        await asyncio.sleep(0.1)
    assert attempts >= 4
    assert await page.evaluate("window.seen.length") == 6


async def test_client_reconnects_after_server_restart_with_its_cursor(
    browser: Browser, page_server: WebServer, log: EventLog, tiny_video: Path
) -> None:
    project = create_project(page_server.base_url, "alice", tiny_video)
    page = await open_page(browser, page_server)
    await start(page, project, since=0, maxSocketFailures=100, **FAST)
    await page.wait_for_function("() => window.client.connection === 'live'")
    await log.append(project, "export.queued", export_id="exp_rs")
    await log.append(project, "export.started", export_id="exp_rs")
    await seen_until(page, 2)
    page_server.stop()
    await page.wait_for_function("() => window.client.connection === 'offline'")
    for done in (1, 2, 3):
        data = {"chunks_done": done, "chunks_total": 3, "progress": done / 3}
        await log.append(project, "export.progress", export_id="exp_rs", data=data)
    await asyncio.to_thread(page_server.start)
    await page.wait_for_function("() => window.client.connection === 'live'", timeout=20_000)
    await log.append(project, "export.completed", export_id="exp_rs")
    assert await seen_until(page, 6) == [1, 2, 3, 4, 5, 6]
    await asyncio.sleep(0.3)
    assert await page.evaluate("window.seen.length") == 6
    state = await page.evaluate("window.client.exportState('exp_rs')")
    assert state["status"] == "completed"


async def test_a_dropped_frame_is_a_gap_filled_from_the_polling_endpoint(
    browser: Browser, page_server: WebServer, log: EventLog, tiny_video: Path
) -> None:
    project = create_project(page_server.base_url, "alice", tiny_video)
    page = await open_page(browser, page_server)

    async def lossy(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if '"seq":3,' not in str(message):  # the network loses event 3
                ws.send(message)

        server.on_message(to_page)

    await page.route_web_socket(re.compile(r".*/ws$"), lossy)
    await start(page, project, since=0, **FAST)
    await page.wait_for_function("() => window.client.connection === 'live'")
    await export_story(log, project, "exp_gap")
    assert await seen_until(page, 5) == [1, 2, 3, 4, 5]
    state = await page.evaluate("window.client.exportState('exp_gap')")
    assert state["status"] == "completed" and state["chunks_done"] == 2


async def test_reset_reloads_the_snapshot_and_goes_on_from_last_seq(
    browser: Browser, page_server: WebServer, log: EventLog, tiny_video: Path
) -> None:
    project = create_project(page_server.base_url, "alice", tiny_video)
    for _ in range(3):
        await log.append(project, "export.progress", export_id="exp_reset")
    page = await open_page(browser, page_server)
    # A cursor from before Redis lost its data: beyond the log's end.
    await start(page, project, since=40, **FAST)
    await page.wait_for_function("() => window.snapshots >= 1 && window.client.cursor")
    assert await page.evaluate(f"window.client.cursor('{project}')") == 3
    await log.append(project, "export.completed", export_id="exp_reset")
    assert await seen_until(page, 1) == [4]


async def test_token_is_refreshed_before_expiry_without_reconnecting(
    browser: Browser, page_server: WebServer, log: EventLog, tiny_video: Path
) -> None:
    project = create_project(page_server.base_url, "alice", tiny_video)
    page = await open_page(browser, page_server)
    await page.evaluate("(t) => { window.token = t; }", token("alice", ttl_s=4))
    await start(page, project, since=0, **FAST)
    await page.wait_for_function("() => window.client.connection === 'live'")
    # exp in 4 s: refreshed at half the remaining life, then again for each new token.
    await page.wait_for_function("() => window.tokenCalls >= 3", timeout=10_000)
    await log.append(project, "export.queued", export_id="exp_tok")
    assert await seen_until(page, 1) == [1]
    assert await page.evaluate("window.connections") == ["live"]


async def test_another_users_project_is_dropped_with_a_forbidden_error(
    browser: Browser, page_server: WebServer, tiny_video: Path
) -> None:
    theirs = create_project(page_server.base_url, "bob", tiny_video)
    page = await open_page(browser, page_server)
    await start(page, theirs, since=0, **FAST)
    await page.wait_for_function("() => window.errors.some((e) => e.code === 'forbidden')")
    assert await page.evaluate(f"window.client.cursor('{theirs}')") == 0
    await page.wait_for_function("() => window.client.connection === 'live'")
