"""Event polling: a project's events after a cursor, the fallback to the WebSocket feed."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.api.context import current_user, owned, services
from server.api.fields import query_int
from server.api.routing import ApiRoute, Operation, Query
from server.models import Project

MAX_PAGE = 500
#: Cursors are event seqs; anything past this (JSON's exact integer range) is refused.
MAX_SEQ = 2**53 - 1


async def list_events(request: Request) -> Response:
    """Events with ``seq > since``, oldest first; ``reset`` when the cursor is too old."""
    project = await owned(Project, request.path_params["project_id"], current_user(request))
    since = query_int(request, "since", default=0, maximum=MAX_SEQ)
    limit = query_int(request, "limit", default=MAX_PAGE, minimum=1, maximum=MAX_PAGE)
    page = await services(request).events.read_since(project.id, since, limit=limit)
    body: dict[str, Any] = {
        "events": [event.to_dict() for event in page.events],
        "last_seq": page.last_seq,
    }
    if page.reset:
        body["reset"] = True
    return JSONResponse(body)


routes = [
    ApiRoute(
        "/projects/{project_id}/events",
        list_events,
        "GET",
        Operation(
            "A project's events after a cursor",
            200,
            "EventPage",
            errors=(400, 404),
            query=(
                Query(
                    "since",
                    "The last seq you applied (0 for everything)",
                    maximum=MAX_SEQ,
                    default=0,
                ),
                Query("limit", "Page size", minimum=1, maximum=MAX_PAGE, default=MAX_PAGE),
            ),
            tags=("events",),
        ),
    ),
]
