"""The one place that turns any failure into ``{"error": {...}}``.

Routes raise ``ApiError`` (or a render engine error); Starlette's own 404/405 and every
unexpected exception come through the same handlers, so clients parse one error shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from server.errors import MAX_MESSAGE_CHARS, TOO_DEEP_CODE, ApiError, echo, from_render_error
from server.http.responses import JSONResponse
from server.text import INVALID_TEXT_CODE, InvalidText, TooDeep
from workers.render.errors import RenderError

#: Starlette HTTPException status → our code, for errors raised by routing itself.
HTTP_STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
}

NOT_FOUND_MESSAGE = "no such resource"


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The error body every failure shares (the message capped, whatever built it)."""
    body = {"error": {"code": code, "message": echo(message, MAX_MESSAGE_CHARS)}}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _render_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RenderError)
    return await _api_error(request, from_render_error(exc))


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_STATUS_CODES.get(exc.status_code, "error")
    message = NOT_FOUND_MESSAGE if exc.status_code == 404 else str(exc.detail)
    return error_response(exc.status_code, code, message, exc.headers)


async def _invalid_text(request: Request, exc: Exception) -> Response:
    """Text that is not valid Unicode (or holds a NUL) met at any edge: the client's fault."""
    assert isinstance(exc, InvalidText)
    return error_response(400, INVALID_TEXT_CODE, str(exc))


async def _too_deep(request: Request, exc: Exception) -> Response:
    return error_response(400, TOO_DEEP_CODE, str(exc))


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up mid-request; nobody reads this answer, but it is not our error."""
    return error_response(400, "client_disconnected", "the client closed the connection")


async def _backend_down(request: Request, exc: Exception) -> Response:
    """Redis briefly gone (restart, failover): a retryable 503, not a 500."""
    return error_response(
        503,
        "unavailable",
        "a backing service is briefly unavailable; retry shortly",
        {"Retry-After": "1"},
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    """Never leaks a traceback or a path; Starlette re-raises so the server logs it."""
    return error_response(500, "internal_error", "something went wrong on our side")


Handler = Callable[[Request, Exception], Awaitable[Response]]

#: Pass to ``Starlette(exception_handlers=...)``.
EXCEPTION_HANDLERS: dict[int | type[Exception], Handler] = {
    ApiError: _api_error,
    RenderError: _render_error,
    HTTPException: _http_exception,
    InvalidText: _invalid_text,
    TooDeep: _too_deep,
    ClientDisconnect: _client_gone,
    RedisConnectionError: _backend_down,
    RedisTimeoutError: _backend_down,
    Exception: _unexpected,
}
