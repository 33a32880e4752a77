"""Reading request input strictly: JSON bodies (validated by their ``Body`` model) and
query parameters.

Malformed input is a 400 (text that is not valid Unicode: ``invalid_text``, naming where);
well-formed input with a wrong field is a 422 whose message starts with the field's name,
so the page can point at it.
"""

from __future__ import annotations

import codecs
from collections.abc import Collection
from typing import Any, TypeVar

from pydantic import ValidationError
from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from server.errors import ApiError, BadRequest, PayloadTooLarge, ValidationFailed
from server.http.shapes import Body, as_api_error
from server.text import InvalidText, TooDeep, loads_checked

B = TypeVar("B", bound=Body)


def is_json_media_type(content_type: str | None) -> bool:
    """True for ``application/json`` and ``application/<anything>+json`` (parameters such
    as ``charset=utf-8`` allowed), and for no Content-Type at all: minimal clients
    (``curl --data-binary`` with ``-H "Content-Type:"``, scripts) still get through."""
    if content_type is None or not content_type.strip():
        return True
    media_type = parse_options_header(content_type)[0].decode("latin-1")
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


async def read_json(
    request: Request, *, max_bytes: int | None = None, non_finite_under: Collection[str] = ()
) -> dict[str, Any]:
    """The body as a JSON object: 415 for a non-JSON Content-Type, 413 past ``max_bytes``
    (default: the ``max_json_bytes`` setting; counted while reading, whatever
    Content-Length says), 400 if malformed, nested too deep or not valid text.
    ``NaN``/``Infinity`` are malformed, except under the top-level ``non_finite_under``."""
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
        value = loads_checked(text, non_finite_under=non_finite_under)
    except (InvalidText, TooDeep):
        raise  # 400 invalid_text / json_too_deep, naming where (server.errors)
    except ValueError as exc:
        raise BadRequest("request body is not valid JSON", code="malformed_json") from exc
    if not isinstance(value, dict):
        raise ValidationFailed("body: expected a JSON object")
    return value


async def read_body(request: Request, body: type[B]) -> B:
    """The JSON body validated as ``body``: a 400/413/415 as ``read_json`` says, then a
    400 ``invalid_text`` or a 422 naming the first bad field."""
    allowed = body.non_finite_fields
    return validated(request, body, await read_json(request, non_finite_under=allowed))


def validated(request: Request, body: type[B], value: dict[str, Any]) -> B:
    """``value`` (a JSON object already read) validated as ``body`` under the app's limits."""
    try:
        return body.model_validate(value, context={"settings": request.app.state.settings})
    except ValidationError as exc:
        raise as_api_error(exc) from exc


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
