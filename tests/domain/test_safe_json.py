"""Output that must never fail: API answers, error bodies and events encode whatever text
they hold (a lone surrogate becomes U+FFFD; in answers NaN becomes null) instead of
raising."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from server.domain.events import Event
from server.http.error_handlers import error_response
from server.http.responses import JSONResponse
from server.safe_json import dumps, dumps_bytes


def test_valid_content_encodes_exactly_like_starlette() -> None:
    content = {"a": [1, 2.5, None, True], "é": "字幕 🎬", "n": -0.0}
    expected = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    assert JSONResponse(content).body == expected.encode()
    assert dumps(content) == expected


def test_lone_surrogates_and_non_finite_numbers_are_repaired() -> None:
    content = {"title\udc00": ["a\ud800b", {"x": math.nan, "y": -math.inf}]}
    body = json.loads(dumps_bytes(content))
    assert body == {"title\ufffd": ["a\ufffdb", {"x": None, "y": None}]}
    assert json.loads(JSONResponse(content).body) == body


def test_error_bodies_cannot_fail() -> None:
    response = error_response(400, "invalid_text", "title \udc00: not valid Unicode text")
    assert json.loads(response.body)["error"]["message"] == "title \ufffd: not valid Unicode text"


def test_events_always_encode_to_utf8() -> None:
    event = Event(
        id="evt_1", seq=0, type="export.failed", project_id="prj_1", export_id="exp_1",
        batch_id=None, ts="2026-01-01T00:00:00.000Z",
        data={"code": "render_failed", "message": "bad \udc80 name", "eta_s": 1.5},
    )  # fmt: skip
    text = event.to_json()
    text.encode("utf-8")
    assert ',"seq":0,' in text  # the mark the append script splits on
    parsed = Event.from_json(text)
    assert parsed.data == {"code": "render_failed", "message": "bad \ufffd name", "eta_s": 1.5}
    with pytest.raises(ValueError):  # a computed NaN is our bug: surfaced, not hidden
        replace(event, data={"eta_s": math.nan}).to_json()
