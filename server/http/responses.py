"""The API's one JSON response: it cannot fail on what the database hands it.

Same bytes as Starlette's ``JSONResponse`` for valid content; a stored lone surrogate or
a non-finite number is repaired by ``server.safe_json`` instead of raising, so one bad row
costs a replaced character in one answer, not a 500 on every later read.
"""

from __future__ import annotations

from typing import Any

from starlette import responses

from server.safe_json import dumps_bytes


class JSONResponse(responses.JSONResponse):
    """Starlette's ``JSONResponse`` that repairs rather than raises."""

    def render(self, content: Any) -> bytes:
        return dumps_bytes(content)
