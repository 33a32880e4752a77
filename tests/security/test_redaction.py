"""Logs never contain tokens or webhook secrets, whichever logger writes them."""

from __future__ import annotations

import logging

import pytest

from server.adapters.auth import issue_token
from server.ops.logging_redaction import REDACTED, RedactingFilter, install, redact

TOKEN = issue_token("test-secret-" + "x" * 32, "alice")
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.mark.parametrize(
    "line",
    [
        f"Authorization: Bearer {TOKEN}",
        f"headers={{'authorization': 'Bearer {TOKEN}', 'host': 'x'}}",
        f"[(b'authorization', b'Bearer {TOKEN}')]",
        f"token {TOKEN} refused",
        f"GET /api/projects/x/events?token={TOKEN}&since=3",
        f"created endpoint with secret {SECRET}",
        "Authorization: Basic YWxpY2U6aHVudGVyMg==",
    ],
)
def test_redact_masks_credentials(line: str) -> None:
    cleaned = redact(line)
    assert TOKEN not in cleaned and SECRET not in cleaned
    assert "YWxpY2U6aHVudGVyMg" not in cleaned
    assert REDACTED in cleaned


def test_redact_keeps_ordinary_text() -> None:
    line = "export exp_123 of project prj_456 completed in 3.2 s"
    assert redact(line) == line


def test_every_logger_is_redacted_once_installed(caplog: pytest.LogCaptureFixture) -> None:
    install()
    install()  # idempotent
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("uvicorn.error").warning("header %s", f"Bearer {TOKEN}")
        logging.getLogger("server.webhooks").info("secret=%s", SECRET)
        try:
            raise ValueError(f"bad token {TOKEN}")
        except ValueError:
            logging.getLogger("anything").exception("failed with %s", SECRET)
    text = caplog.text
    assert TOKEN not in text and SECRET not in text
    assert text.count(REDACTED) >= 3


def test_the_filter_works_on_a_handler_too() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "auth %s", (TOKEN,), None)
    assert RedactingFilter().filter(record) is True
    assert TOKEN not in record.getMessage()


def test_uvicorn_access_lines_still_format_and_hide_query_tokens() -> None:
    from uvicorn.logging import AccessFormatter

    install()
    make = logging.getLogRecordFactory()
    args = ("127.0.0.1:5000", "GET", f"/api/projects/p/events?token={TOKEN}", "1.1", 200)
    record = make(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert TOKEN not in line and "/api/projects/p/events?token=" in line and "200" in line
