"""Reading request input strictly: JSON bodies, typed fields and query parameters.

Malformed input is a 400; well-formed input with a wrong field is a 422 whose message
starts with the field's name, so the page can point at it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, NoReturn, TypeVar

from starlette.requests import Request

from server.errors import BadRequest, PayloadTooLarge, ValidationFailed

T = TypeVar("T", bound=str)

_MISSING: Any = object()


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


async def read_json(request: Request, *, max_bytes: int | None = None) -> dict[str, Any]:
    """The body as a JSON object; 413 past ``max_bytes`` (default: the ``max_json_bytes``
    setting; counted while reading, whatever Content-Length says), 400 if malformed."""
    if max_bytes is None:
        max_bytes = int(request.app.state.settings.max_json_bytes)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"request body is over {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"request body is over {max_bytes} bytes")
    try:
        value = json.loads(bytes(body), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise BadRequest("request body is not valid JSON", code="malformed_json") from exc
    if not isinstance(value, dict):
        raise ValidationFailed("body: expected a JSON object")
    return value


def invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {problem}")


def number(
    data: dict[str, Any],
    name: str,
    *,
    default: float = _MISSING,
    minimum: float | None = None,
    maximum: float | None = None,
    path: str = "",
) -> float:
    """A finite JSON number (not a boolean), optionally bounded."""
    label = path + name
    value = data.get(name, default)
    if value is _MISSING:
        raise invalid(label, "required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(label, "must be a number")
    result = float(value)
    if not math.isfinite(result):
        raise invalid(label, "must be a finite number")
    if minimum is not None and result < minimum:
        raise invalid(label, f"must be at least {minimum}")
    if maximum is not None and result > maximum:
        raise invalid(label, f"must be at most {maximum}")
    return result


def string(
    data: dict[str, Any],
    name: str,
    *,
    default: str | None = _MISSING,
    max_length: int,
    min_length: int = 0,
    path: str = "",
) -> str | None:
    """A JSON string within length bounds (``default`` when absent; None only if allowed)."""
    label = path + name
    value = data.get(name, _MISSING)
    if value is _MISSING or (value is None and default is None):
        if default is _MISSING:
            raise invalid(label, "required")
        return default
    if not isinstance(value, str):
        raise invalid(label, "must be a string")
    if len(value) < min_length:
        raise invalid(
            label, "must not be empty" if min_length == 1 else f"too short (min {min_length})"
        )
    if len(value) > max_length:
        raise invalid(label, f"too long (max {max_length} characters)")
    return value


def boolean(data: dict[str, Any], name: str, *, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise invalid(name, "must be true or false")
    return value


def choice(data: dict[str, Any], name: str, options: Sequence[T], *, default: T) -> T:
    """One of ``options`` (exact string match)."""
    value = data.get(name, default)
    for option in options:
        if value == option:
            return option
    raise invalid(name, f"must be one of {', '.join(options)}")


def object_list(
    data: dict[str, Any], name: str, *, max_items: int, default: list[Any] = _MISSING
) -> list[dict[str, Any]]:
    """A JSON array of objects, at most ``max_items`` long."""
    value = data.get(name, _MISSING)
    if value is _MISSING:
        if default is _MISSING:
            raise invalid(name, "required")
        return list(default)
    if not isinstance(value, list):
        raise invalid(name, "must be an array")
    if len(value) > max_items:
        raise invalid(name, f"at most {max_items} items")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise invalid(f"{name}[{index}]", "must be an object")
    return value


def query_int(
    request: Request, name: str, *, default: int, minimum: int = 0, maximum: int | None = None
) -> int:
    """A non-negative integer query parameter; anything else is a 400 naming it."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not raw.isascii() or len(raw) > 20:
        raise BadRequest(f"{name}: must be a non-negative integer", code="invalid_parameter")
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise BadRequest(f"{name}: must be {bounds}", code="invalid_parameter")
    return value
