"""Reading request input strictly: JSON bodies, typed fields and query parameters.

Malformed input is a 400 (text that is not valid Unicode: ``invalid_text``, naming where);
well-formed input with a wrong field is a 422 whose message starts with the field's name,
so the page can point at it.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Sequence
from typing import Any, TypeVar

from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from server.errors import ApiError, BadRequest, PayloadTooLarge, ValidationFailed
from server.http.edge_text import checked_text
from server.text import InvalidText, TooDeep, loads_checked

T = TypeVar("T", bound=str)

_MISSING: Any = object()


def is_json_media_type(content_type: str | None) -> bool:
    """True for ``application/json`` and ``application/<anything>+json`` (parameters such
    as ``charset=utf-8`` allowed), and for no Content-Type at all: minimal clients
    (``curl --data-binary`` with ``-H "Content-Type:"``, scripts) still get through."""
    if content_type is None or not content_type.strip():
        return True
    media_type = parse_options_header(content_type)[0].decode("latin-1")
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


async def read_json(request: Request, *, max_bytes: int | None = None) -> dict[str, Any]:
    """The body as a JSON object: 415 for a non-JSON Content-Type, 413 past ``max_bytes``
    (default: the ``max_json_bytes`` setting; counted while reading, whatever
    Content-Length says), 400 if malformed, nested too deep or not valid text."""
    if not is_json_media_type(request.headers.get("content-type")):
        raise ApiError(
            "the body must be JSON (Content-Type: application/json)",
            code="unsupported_media_type",
            status=415,
        )
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
    try:  # JSON is UTF-8 (RFC 8259): other bytes are not JSON at all, so malformed
        text = bytes(body).removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("request body is not UTF-8 JSON", code="malformed_json") from exc
    try:
        value = loads_checked(text)
    except (InvalidText, TooDeep):
        raise  # 400 invalid_text / json_too_deep, naming where (server.errors)
    except ValueError as exc:
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
    try:
        result = float(value)
    except OverflowError:  # an integer too large for a float: not a usable number either
        result = math.inf
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
    checked_text(value, label)  # NUL: 400 invalid_text (PostgreSQL cannot store it)
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
