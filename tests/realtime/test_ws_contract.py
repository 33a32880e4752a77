"""docs/api.md's ``WS /ws`` section agrees with the code: the close codes the server can
send (ours, read from server/realtime, and uvicorn's own, read from the WebSocket layer
``reelay web`` runs), the ``error`` codes, and the ping rate limit."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

from server.commands.web import WS_PROTOCOL
from server.realtime import session
from server.text import INVALID_TEXT_CODE

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "api.md"
REALTIME = ROOT / "server" / "realtime"

#: uvicorn's module for each ``--ws`` choice.
UVICORN_WS_MODULES = {
    "wsproto": "uvicorn.protocols.websockets.wsproto_impl",
    "websockets-sansio": "uvicorn.protocols.websockets.websockets_sansio_impl",
    "websockets": "uvicorn.protocols.websockets.websockets_impl",
}

_DOC_CLOSE = re.compile(r"^\s+- `(\d{4})`:", re.MULTILINE)
_OUR_CLOSE = re.compile(r"Close\(\s*(\d{4})|close\(code=(\d{4})")
_UVICORN_CLOSE = re.compile(r"CloseConnection\(code=(\d{4})")
_OUR_ERROR = re.compile(r"""(?:error|BadFrame)\(\s*"([a-z_]+)",""")
_DOC_ERROR_BULLET = re.compile(r"a frame the server cannot act on.*?(?=\n  - )", re.DOTALL)
_DOC_PING_LIMIT = re.compile(r"At most (\d+) pings per\s+second are\s+answered \(bursts of (\d+)\)")


def ws_section(text: str) -> str:
    start = text.index("- `WS /ws`")
    return text[start : text.index("\n- ", start + 1)]


def documented_close_codes(section: str) -> set[int]:
    return {int(code) for code in _DOC_CLOSE.findall(section)}


def our_close_codes() -> set[int]:
    found: set[int] = set()
    for path in REALTIME.glob("*.py"):
        for match in _OUR_CLOSE.findall(path.read_text()):
            found.add(int(match[0] or match[1]))
    return found


def uvicorn_close_codes() -> set[int]:
    """Codes uvicorn's WebSocket layer sends by itself (too large, shutdown, keep-alive)."""
    source = inspect.getsource(importlib.import_module(UVICORN_WS_MODULES[WS_PROTOCOL]))
    return {int(code) for code in _UVICORN_CLOSE.findall(source)}


def documented_error_codes(section: str) -> set[str]:
    match = _DOC_ERROR_BULLET.search(section)
    assert match is not None, "the error-codes bullet is missing"
    return set(re.findall(r"`([a-z]+(?:_[a-z]+)+)`", match.group(0).split("Codes:")[1]))


def our_error_codes() -> set[str]:
    found = {INVALID_TEXT_CODE}
    for path in REALTIME.glob("*.py"):
        found |= set(_OUR_ERROR.findall(path.read_text()))
    return found


def test_every_close_code_the_server_sends_is_documented_and_no_other() -> None:
    documented = documented_close_codes(ws_section(DOC.read_text()))
    sent = our_close_codes() | uvicorn_close_codes()
    assert {4001, 4003, 4008, 1001, 1008, 1013} <= our_close_codes()  # the parser works
    assert sorted(sent - documented) == [], "close codes missing from docs/api.md"
    assert sorted(documented - sent) == [], "docs/api.md lists close codes nobody sends"


def test_every_error_code_is_documented_and_no_other() -> None:
    documented = documented_error_codes(ws_section(DOC.read_text()))
    used = our_error_codes()
    assert {"bad_json", "rate_limited", "invalid_text"} <= used  # the parser works
    assert sorted(used - documented) == [], "error codes missing from docs/api.md"
    assert sorted(documented - used) == [], "docs/api.md lists error codes nobody sends"


def test_the_documented_ping_limit_is_the_one_enforced() -> None:
    match = _DOC_PING_LIMIT.search(ws_section(DOC.read_text()))
    assert match is not None, "the ping limit is not documented"
    assert (float(match.group(1)), int(match.group(2))) == (
        session.PINGS_PER_S,
        session.PING_BURST,
    )


def test_the_close_code_parser_sees_a_code_added_to_the_doc() -> None:
    section = "- `WS /ws` — x\n  - close codes:\n    - `4001`: a\n    - `4999`: new\n- next"
    assert documented_close_codes(ws_section(section)) == {4001, 4999}
