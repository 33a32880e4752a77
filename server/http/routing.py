"""Routes that carry their own OpenAPI description, declared right beside the handler.

Modules declare one ``ApiRoute`` per method; ``group`` joins those sharing a path into one
Starlette route, so a wrong method gets a 405 whose ``Allow`` lists every method the path
has. ``/openapi.json`` is built from the same declarations (see ``openapi.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
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


@dataclass(frozen=True)
class ApiRoute:
    """The declaration of one method on one path, with its handler and description."""

    path: str
    endpoint: Endpoint
    method: str
    operation: Operation

    @property
    def name(self) -> str:
        return self.endpoint.__name__


class ApiPath(Route):
    """One path serving every method declared for it."""

    def __init__(self, path: str, declared: Iterable[ApiRoute]) -> None:
        self.declared = {route.method: route for route in declared}
        super().__init__(path, self._dispatch, methods=list(self.declared))

    async def _dispatch(self, request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await self.declared[method].endpoint(request)


def group(declared: Iterable[ApiRoute]) -> list[ApiPath]:
    """One ``ApiPath`` per distinct path, in first-declared order."""
    by_path: dict[str, list[ApiRoute]] = {}
    for route in declared:
        by_path.setdefault(route.path, []).append(route)
    return [ApiPath(path, routes) for path, routes in by_path.items()]
