"""A project's events after a cursor: polling (the WebSocket's fallback) or, with
``Accept: text/event-stream``, Server-Sent Events through the process's hub."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.domain.models import Project
from server.http.access import owned
from server.http.fields import query_int
from server.http.routing import Query, Routes
from server.http.services import current_user, services
from server.http.shapes import answer
from server.realtime.event_page import Event, EventPage
from server.realtime.hub import hub_of
from server.realtime.sse import event_stream, parse_last_event_id

MAX_PAGE = 500
#: Cursors are event seqs; anything past this (JSON's exact integer range) is refused.
MAX_SEQ = 2**53 - 1

routes = Routes("events")

#: How the stream is described in OpenAPI (the route's one description field is its headers).
SSE_HEADERS = (
    (
        "Accept",
        "`text/event-stream` streams Server-Sent Events instead of one JSON page: every "
        "event after the cursor, then live ones; `id:` is the seq, `data:` the event JSON; "
        '`event: reset` (data `{"project_id","last_seq"}`) means reload the snapshot; '
        "`event: subscribed` ends the replay; `:` lines are keep-alives.",
    ),
    (
        "Last-Event-ID",
        "Server-Sent Events only: the last seq received; wins over `since` on reconnect.",
    ),
)


@routes.get(
    "/projects/{project_id}/events",
    "A project's events after a cursor: a JSON page, or with "
    "`Accept: text/event-stream` a live Server-Sent Events stream",
    200,
    EventPage,
    errors=(400, 404),
    headers=SSE_HEADERS,
    query=(
        Query("since", "The last seq you applied (0 for everything)", maximum=MAX_SEQ, default=0),
        Query("limit", "Page size", minimum=1, maximum=MAX_PAGE, default=MAX_PAGE),
    ),
)
async def list_events(request: Request) -> Response:
    """Events with ``seq > since``, oldest first; ``reset`` when the cursor is too old."""
    project = await owned(Project, request.path_params["project_id"], current_user(request))
    since = query_int(request, "since", default=0, maximum=MAX_SEQ)
    if "text/event-stream" in request.headers.get("accept", ""):
        last_event_id = parse_last_event_id(request.headers.get("last-event-id"))
        settings = services(request).settings
        return event_stream(
            hub_of(request),
            services(request).events,
            project.id,
            since if last_event_id is None else min(last_event_id, MAX_SEQ),
            queue=settings.ws_send_queue,
            keepalive_s=settings.sse_keepalive_s,
        )
    limit = query_int(request, "limit", default=MAX_PAGE, minimum=1, maximum=MAX_PAGE)
    page = await services(request).events.read_since(project.id, since, limit=limit)
    events = [Event.of(event) for event in page.events]
    if page.reset:
        return answer(EventPage(events=events, last_seq=page.last_seq, reset=True))
    return answer(EventPage(events=events, last_seq=page.last_seq))
