"""Routes that carry their own OpenAPI description, declared right beside the handler.

Each module declares its routes on its handlers (``@routes.get(path, summary, ...)``, see
``Routes``), one ``ApiRoute`` per method; ``group`` joins those sharing a path into one
Starlette route, so a wrong method gets a 405 whose ``Allow`` lists every method the path
has. ``/openapi.json`` is built from the same declarations (see ``openapi.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]
E = TypeVar("E", bound=Endpoint)
#: The success body of an operation, if it has a JSON one.
Answer = type[BaseModel] | None


@dataclass(frozen=True)
class Query:
    """A query parameter: an integer bounded below by ``minimum`` (and above by ``maximum``)."""

    name: str
    description: str
    minimum: int = 0
    maximum: int | None = None
    default: int | None = None


#: Runtime expressions for links: the answer's own ``id``, or any member of it.
ID = "$response.body#/id"


def member(pointer: str) -> str:
    """The runtime expression of a member of the answer: ``member("/exports/0/id")``."""
    return f"$response.body#{pointer}"


@dataclass(frozen=True)
class Link:
    """What can be done next with a success answer: call the operation ``operation`` (a
    handler's name) with path parameters (and optionally a JSON body) taken from it. An
    OpenAPI link, so clients and stateful fuzzers can chain calls."""

    operation: str
    parameters: tuple[tuple[str, str], ...]
    body: Any = None

    def document(self) -> dict[str, Any]:
        link: dict[str, Any] = {"operationId": self.operation, "parameters": dict(self.parameters)}
        if self.body is not None:
            link["requestBody"] = self.body
        return link


def link(operation: str, *, body: Any = None, **parameters: str) -> Link:
    """``link("get_export", export_id=ID)``: a ``Link`` with parameters as keywords."""
    return Link(operation, tuple(parameters.items()), body)


@dataclass(frozen=True)
class Operation:
    """One method on one path: what it takes, what it answers, which errors it can give."""

    summary: str
    status: int
    response: Answer = None  # the success body
    body: type[BaseModel] | None = None  # a JSON request body
    multipart: type[BaseModel] | None = None  # a multipart/form-data body
    errors: tuple[int, ...] = ()
    also: tuple[int, ...] = ()  # other success answers (206 partial body, 302 redirect)
    query: tuple[Query, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()  # (request header, description)
    media_type: str = "application/json"
    auth: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)
    links: tuple[Link, ...] = ()  # what the success answer leads to


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


class Routes(list[ApiRoute]):
    """A module's route table, filled by decorating its handlers: ``@routes.post("/webhooks",
    "Register a webhook endpoint", 201, WebhookCreated, body=WebhookCreate)``. After the path
    come an ``Operation``'s fields; the ``tags`` given here are every route's."""

    def __init__(self, *tags: str) -> None:
        super().__init__()
        self.tags = tags

    def route(
        self, method: str, path: str, summary: str, status: int, response: Answer, **more: Any
    ) -> Callable[[E], E]:
        def declare(endpoint: E) -> E:
            operation = Operation(summary, status, response, **{"tags": self.tags, **more})
            self.append(ApiRoute(path, endpoint, method, operation))
            return endpoint

        return declare

    def get(
        self, path: str, summary: str, status: int, response: Answer = None, **more: Any
    ) -> Callable[[E], E]:
        return self.route("GET", path, summary, status, response, **more)

    def post(
        self, path: str, summary: str, status: int, response: Answer = None, **more: Any
    ) -> Callable[[E], E]:
        return self.route("POST", path, summary, status, response, **more)

    def patch(
        self, path: str, summary: str, status: int, response: Answer = None, **more: Any
    ) -> Callable[[E], E]:
        return self.route("PATCH", path, summary, status, response, **more)

    def delete(
        self, path: str, summary: str, status: int, response: Answer = None, **more: Any
    ) -> Callable[[E], E]:
        return self.route("DELETE", path, summary, status, response, **more)


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
