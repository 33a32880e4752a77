"""Routes that carry their own OpenAPI description, declared right beside the handler.

``/openapi.json`` is built from these declarations (see ``openapi.py``), so a route and its
documentation cannot drift apart silently.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Query:
    """A query parameter: an integer bounded below by ``minimum`` (and above by ``maximum``)."""

    name: str
    description: str
    minimum: int = 0
    maximum: int | None = None
    default: int | None = None


@dataclass(frozen=True)
class Operation:
    """One method on one path: what it takes, what it answers, which errors it can give."""

    summary: str
    status: int
    response: str | None = None  # component schema of the success body
    body: str | None = None  # component schema of a JSON request body
    multipart: str | None = None  # component schema of a multipart/form-data body
    errors: tuple[int, ...] = ()
    also: tuple[int, ...] = ()  # other success answers (206 partial body, 302 redirect)
    query: tuple[Query, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()  # (request header, description)
    media_type: str = "application/json"
    auth: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)


class ApiRoute(Route):
    """A single-method route with its ``Operation``."""

    def __init__(self, path: str, endpoint: Endpoint, method: str, operation: Operation) -> None:
        super().__init__(path, endpoint, methods=[method], name=endpoint.__name__)
        self.method = method
        self.operation = operation
