"""Text a client sends must be real Unicode, and JSON it sends must be shallow.

JSON allows escapes such as ``"\\udc00"`` that decode to a lone UTF-16 surrogate: a
Python ``str`` that cannot be encoded as UTF-8, so the database, the event log and every
later JSON response would fail on it. Every edge (HTTP bodies, WebSocket frames,
headers, multipart fields, file names) checks text with these helpers and refuses it
with ``invalid_text`` before anything is stored. Nesting is bounded for the same
reason: a deeply nested document costs recursion in every later reader.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any, NoReturn

#: Deepest nesting of arrays/objects accepted in any JSON a client sends.
MAX_JSON_DEPTH = 32

#: Code of the 400 answered for text that is not valid Unicode.
INVALID_TEXT_CODE = "invalid_text"


class InvalidText(ValueError):
    """Text that is not valid Unicode (lone surrogates, undecodable bytes) at ``where``."""

    def __init__(self, where: str) -> None:
        super().__init__(f"{where}: not valid Unicode text")
        self.where = where


class TooDeep(ValueError):
    """JSON nested deeper than ``MAX_JSON_DEPTH``."""


def is_valid_text(value: str) -> bool:
    """True when ``value`` encodes to UTF-8 (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: str, where: str) -> str:
    """``value`` unchanged, or InvalidText naming ``where``."""
    if not is_valid_text(value):
        raise InvalidText(where)
    return value


def decode_utf8(raw: bytes, where: str) -> str:
    """Strict UTF-8 decoding (surrogate code points refused too), or InvalidText."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidText(where) from exc


def check_json_value(value: Any, where: str = "body", *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Walk parsed JSON: every key and string must be valid text, nesting within
    ``max_depth``; raises InvalidText (naming the JSON path) or TooDeep."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, path)
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                raise TooDeep(f"{path}: nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    check_text(key, f"{path} (a key)")
                    stack.append((child, f"{path}.{key}", depth + 1))
            else:
                for index, child in enumerate(item):
                    stack.append((child, f"{path}[{index}]", depth + 1))


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


class _NonFinite(float):
    """A ``NaN``/``Infinity`` literal read under a key that lets its own validator refuse
    it (naming where), rather than the parser refusing the whole body."""


def _non_finite_outside(value: Any, allowed: Collection[str]) -> bool:
    """Whether a ``_NonFinite`` sits anywhere but under one of the top-level ``allowed``."""
    stack = (
        [v for k, v in value.items() if k not in allowed] if isinstance(value, dict) else [value]
    )
    while stack:
        item = stack.pop()
        if isinstance(item, _NonFinite):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def loads_checked(
    raw: str | bytes, where: str = "body", *, non_finite_under: Collection[str] = ()
) -> Any:
    """Parse client JSON: strict (no NaN/Infinity — except anywhere under the top-level keys
    ``non_finite_under``, left for their validator), valid Unicode, bounded depth.

    Raises ValueError (malformed, including too deep for the parser itself),
    InvalidText or TooDeep — never RecursionError.
    """
    if isinstance(raw, bytes):
        raw = decode_utf8(raw, where)
    constant = _NonFinite if non_finite_under else _reject_constant
    try:
        value = json.loads(raw, parse_constant=constant)
    except RecursionError as exc:
        raise TooDeep(f"{where}: nested deeper than {MAX_JSON_DEPTH} levels") from exc
    if non_finite_under and _non_finite_outside(value, non_finite_under):
        raise ValueError("NaN and Infinity are not valid JSON")
    check_json_value(value, where)
    return value


def safe_text(value: str) -> str:
    """``value`` with any lone surrogate replaced by U+FFFD: for output that must never
    fail (responses, logs), whatever was stored before the edge checks existed."""
    if is_valid_text(value):
        return value
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def sanitize_json_value(value: Any) -> Any:
    """A copy of ``value`` whose every string (keys too) is ``safe_text``."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_text(str(k)): sanitize_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [sanitize_json_value(v) for v in value]
    return value
