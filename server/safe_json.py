"""Compact JSON for output that must never fail: API answers and events.

The edges refuse text that is not valid Unicode, but rows written before they did (or a
message from a library) may still hold a lone surrogate, and a computed figure may be NaN.
Such a value costs one replaced character (U+FFFD) or one ``null`` in one document and a
warning in the log — never a 500 on every later read, never an event that cannot be sent.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from server.text import is_valid_text, sanitize_json_value

logger = logging.getLogger(__name__)


def dumps(value: Any, *, repair_numbers: bool = True) -> str:
    """``value`` as compact JSON text (non-ASCII kept) that always encodes to UTF-8.

    With ``repair_numbers=False`` a NaN or infinity still raises ValueError: for callers
    that compute their numbers, where one is a bug to surface, not stored data to serve.
    """
    try:
        text = _strict(value)
    except ValueError:  # NaN or an infinity somewhere
        if not repair_numbers:
            raise
        return _repaired(value, "a non-finite number")
    if not is_valid_text(text):
        return _repaired(value, "text that is not valid Unicode")
    return text


def dumps_bytes(value: Any) -> bytes:
    """``dumps(value)`` encoded as UTF-8 (one encoding pass when nothing needs repair)."""
    try:
        return _strict(value).encode("utf-8")
    except ValueError as exc:  # UnicodeEncodeError is one too
        problem = "text that is not valid Unicode"
        if not isinstance(exc, UnicodeEncodeError):
            problem = "a non-finite number"
        return _repaired(value, problem).encode("utf-8")


def _repaired(value: Any, problem: str) -> str:
    """JSON of a copy of ``value``: U+FFFD for lone surrogates, null for non-finite
    numbers; logged, because it means a check upstream let something through."""
    logger.warning("JSON output held %s; wrote a repaired copy", problem)
    return _strict(sanitize_json_value(_finite(value)))


def _strict(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _finite(value: Any) -> Any:
    """A copy of ``value`` with NaN and infinities (which JSON cannot carry) as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
