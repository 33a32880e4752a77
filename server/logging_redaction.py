"""Logs never carry credentials: bearer tokens, raw JWTs and webhook secrets are masked.

Installed as a log record factory, so every record of every logger (ours, uvicorn's,
libraries') is redacted once at creation, whatever handlers are configured later. The
message is formatted eagerly so secrets passed as ``%s`` arguments are caught too.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from typing import Any

REDACTED = "[redacted]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization header values, in any header rendering (dict repr, raw line, tuple).
    (
        re.compile(
            r"(?i)(authorization['\"]?\s*[:=,]\s*\(?['\"]?b?['\"]?\s*)[^'\"\s,)]+(\s+[^'\"\s,)]+)?"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), rf"\1{REDACTED}"),
    # Anything shaped like a JWT: three base64url segments, the first a JSON header.
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    # Standard Webhooks signing secrets.
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]+"), f"whsec_{REDACTED}"),
    # Tokens in query strings (?token=..., &access_token=...).
    (re.compile(r"(?i)([?&](?:access_)?token=)[^&\s'\"]+"), rf"\1{REDACTED}"),
)


def redact(text: str) -> str:
    """``text`` with every credential-looking part replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and traceback text) with ``redact``; never drops it."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # bad %-args: keep the raw template, still redacted
        message = str(record.msg)
    record.msg = redact(message)
    record.args = None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


_installed: Callable[..., logging.LogRecord] | None = None


def install() -> None:
    """Redact every log record from now on (idempotent; called by ``create_app``)."""
    global _installed
    current = logging.getLogRecordFactory()
    if current is _installed:
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        redact_record(record)
        return record

    _installed = factory
    logging.setLogRecordFactory(factory)
