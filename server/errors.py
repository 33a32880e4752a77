"""The failures a client can act on: an HTTP status, a stable ``code`` and a sentence.

Raised by routes and by the domain alike; ``server.http.error_handlers`` is the one
place that turns them (and every other failure) into ``{"error": {...}}`` bodies.
"""

from __future__ import annotations

from collections.abc import Mapping

from workers.render.errors import RenderError


class ApiError(Exception):
    """A failure the client can act on: an HTTP status, a stable ``code`` and a sentence."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = dict(headers or {})


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class RangeNotSatisfiable(ApiError):
    status, code = 416, "range_not_satisfiable"


class ValidationFailed(ApiError):
    """Well-formed but invalid input; the message starts with the offending field."""

    status, code = 422, "validation_error"


class ServiceUnavailable(ApiError):
    status, code = 503, "unavailable"


#: Render engine error code → HTTP status when the web side meets it (probing, validation).
RENDER_ERROR_STATUS: dict[str, int] = {
    "not_a_video": 415,
    "unsupported_codec": 415,
    "moment_out_of_range": 422,
    "invalid_render_spec": 422,
}


#: Longest piece of client input echoed in an error message, and longest message sent.
MAX_ECHO_CHARS = 100
MAX_MESSAGE_CHARS = 1000


def echo(value: object, limit: int = MAX_ECHO_CHARS) -> str:
    """Client input as it may appear in an error message: at most ``limit`` characters
    (cut with "…"), so a 40 KB id or filename is never sent back or logged whole."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: Code of the 400 answered for JSON nested deeper than ``server.text.MAX_JSON_DEPTH``.
TOO_DEEP_CODE = "json_too_deep"


def from_render_error(exc: RenderError) -> ApiError:
    """The API error for a render engine failure met while serving a request."""
    return ApiError(exc.message, code=exc.code, status=RENDER_ERROR_STATUS.get(exc.code, 422))
