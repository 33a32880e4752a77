"""Logs never carry credentials: bearer tokens, raw JWTs and webhook secrets are masked.

Installed as a log record factory, so every record of every logger (ours, uvicorn's,
libraries') is redacted once at creation, whatever handlers are configured later. The
template and every ``%s`` argument are redacted separately, so formatters that read
``record.args`` keep working.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Mapping
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
    """Redact the template and each argument in place, keeping ``args``' shape (formatters
    such as uvicorn's access log unpack it); the traceback text is rendered and redacted."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    elif not isinstance(record.msg, int | float):
        record.msg = redact(str(record.msg))
    if isinstance(record.args, tuple):
        record.args = tuple(_redact_arg(arg) for arg in record.args)
    elif isinstance(record.args, Mapping):
        record.args = {key: _redact_arg(value) for key, value in record.args.items()}
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _redact_arg(arg: object) -> object:
    """Numbers and clean values stay as they are (``%d`` still works); anything whose text
    holds a credential becomes its redacted text."""
    if arg is None or isinstance(arg, bool | int | float):
        return arg
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    cleaned = redact(text)
    return arg if cleaned == text else cleaned


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
