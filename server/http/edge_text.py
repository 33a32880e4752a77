"""What text the API takes in: valid Unicode without NUL, in the body fields, paths,
queries, headers and form fields it reads — refused with 400 ``invalid_text`` at the
door, never a 500 later.

``server.text`` rules out lone surrogates and undecodable bytes. NUL is valid Unicode but
PostgreSQL cannot store it in ``text`` or ``jsonb`` (nor take it as a query parameter), so
the API refuses it wherever it reads text: one rule on every database.

ASGI servers percent-decode the path leniently (bad UTF-8 becomes U+FFFD, ``%00`` a NUL)
and Starlette decodes the query string the same way, so ``TextGuardMiddleware`` reads the
raw bytes strictly instead. Headers arrive as bytes Starlette decodes as latin-1; the ones
the API reads as text (``TEXT_HEADERS``) must be UTF-8 without control characters. Other
headers are not read, so they are not judged.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from server.http.error_handlers import error_response
from server.text import INVALID_TEXT_CODE, InvalidText, check_text, decode_utf8

#: Request headers the API reads as text; their values must be UTF-8 without controls.
TEXT_HEADERS: frozenset[bytes] = frozenset(
    {
        b"authorization",
        b"content-type",
        b"idempotency-key",
        b"last-event-id",
        b"range",
        b"if-range",
        b"accept",
    }
)

_CONTROLS = frozenset(chr(code) for code in (*range(0x20), 0x7F))


class ForbiddenCharacter(InvalidText):
    """Valid Unicode holding a character the API refuses at ``where`` (NUL, controls)."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(where)
        self.args = (f"{where}: contains {what}, which is not accepted",)


def checked_text(value: str, where: str) -> str:
    """``value`` if it is valid Unicode without NUL; InvalidText naming ``where`` if not."""
    check_text(value, where)
    if "\x00" in value:
        raise ForbiddenCharacter(where, "a NUL character")
    return value


def decoded_text(raw: bytes, where: str) -> str:
    """Strict UTF-8 ``raw`` without NUL, or InvalidText naming ``where``."""
    return checked_text(decode_utf8(raw, where), where)


def check_query(query_string: bytes) -> None:
    """Every name and value of a query string, percent-decoded strictly."""
    for pair in query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        decoded_name = decoded_text(unquote_to_bytes(name.replace(b"+", b" ")), "query")
        decoded_text(unquote_to_bytes(value.replace(b"+", b" ")), decoded_name or "query")


def check_header(name: bytes, value: bytes) -> None:
    """A header value the API reads: UTF-8 with no control character but tab."""
    where = name.decode("latin-1")
    text = decoded_text(value, where)
    if any(char in _CONTROLS and char != "\t" for char in text):
        raise ForbiddenCharacter(where, "a control character")


def check_request_text(scope: Scope) -> None:
    """The path, the query string and the text headers of an HTTP request scope."""
    raw_path = scope.get("raw_path")
    path_bytes = raw_path.split(b"?", 1)[0] if raw_path else scope["path"].encode()
    decoded_text(unquote_to_bytes(path_bytes), "path")
    check_query(scope.get("query_string", b""))
    for name, value in scope.get("headers", ()):
        if name.lower() in TEXT_HEADERS:
            check_header(name.lower(), value)


class TextGuardMiddleware:
    """400 ``invalid_text`` for an HTTP request whose path, query or read headers are not
    valid text; the route never sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                check_request_text(scope)
            except InvalidText as exc:
                response = error_response(400, INVALID_TEXT_CODE, str(exc))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
