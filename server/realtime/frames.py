"""Client frames of ``/ws``: parsed once, here, into a message or a ``BadFrame``.

Every frame a client sends goes through ``parse``: text only, at most
``ws_max_message_bytes``, strict JSON (``server.text.loads_checked``: valid Unicode,
nesting bounded, never a ``RecursionError``), an object with a string ``type``. A frame
that fails answers an ``error`` message with the ``BadFrame``'s code (or, before
``auth``, a 4001 close naming it), so nothing a client sends reaches a handler that
could fail on it. Also the server's own frames: ``encode`` and ``error``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from server.text import INVALID_TEXT_CODE, MAX_JSON_DEPTH, InvalidText, TooDeep, loads_checked

#: How much of a client's input an error message may quote.
MAX_ECHO_CHARS = 80


class BadFrame(Exception):
    """A client frame the protocol cannot act on; ``code`` is the ``error`` message's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse(frame: Mapping[str, Any], max_bytes: int) -> dict[str, Any]:
    """The JSON object an ASGI ``websocket.receive`` message carries, or BadFrame."""
    text = frame.get("text")
    if not isinstance(text, str):
        raise BadFrame("bad_message", "frames must be JSON text, not binary")
    # len() in characters never exceeds the UTF-8 length: a huge frame is refused without
    # encoding it. The server decoded it strictly, so it encodes back without error.
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise BadFrame("message_too_large", f"frames are limited to {max_bytes} bytes")
    try:
        message = loads_checked(text, "frame")
    except InvalidText as exc:
        where = exc.where[:MAX_ECHO_CHARS]
        raise BadFrame(
            INVALID_TEXT_CODE, f"{where} is not valid Unicode text (a lone surrogate escape?)"
        ) from exc
    except TooDeep as exc:
        raise BadFrame("bad_json", f"frames may nest at most {MAX_JSON_DEPTH} levels") from exc
    except ValueError as exc:
        raise BadFrame("bad_json", "frames must be JSON text") from exc
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise BadFrame("bad_message", "a message is an object with a string type")
    return message


def encode(message: dict[str, Any]) -> str:
    """One server frame (compact JSON, UTF-8 as is)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def error(code: str, message: str) -> str:
    """An ``error`` frame: the socket lives on."""
    return encode({"type": "error", "code": code, "message": message})
