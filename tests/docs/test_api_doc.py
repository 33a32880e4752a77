"""docs/api.md is the contract: it must name every route the app serves and nothing else.

Routes are read from the backticked ``METHOD /path`` spans of the page and compared with
the app's own routing table (the same one ``/openapi.json`` is built from), path
parameters compared by position only; event types with the event schema's list.
"""

from __future__ import annotations

import re
from pathlib import Path

from server.api.openapi import walk
from server.app import create_app
from server.domain.events import EVENT_TYPES
from server.domain.notifications import WEBHOOK_EVENT_TYPES
from tests.conftest import SettingsFactory

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
_ROUTE = re.compile(r"`(GET|POST|PATCH|PUT|DELETE|WS) (/[^`\s?]*)[^`]*`")
_EVENT = re.compile(r"`((?:export|batch|moment|webhook)\.[a-z_]+)`")
_PARAM = re.compile(r"\{[^}]+\}")

#: Event types that exist only on webhooks (never on a project's event log).
WEBHOOK_ONLY_EVENTS = {"webhook.test"}


def _shape(path: str) -> str:
    return _PARAM.sub("{}", path.rstrip("/") or "/")


def documented_routes(text: str) -> set[tuple[str, str]]:
    return {(method, _shape(path)) for method, path in _ROUTE.findall(text)}


def served_routes(settings: SettingsFactory) -> set[tuple[str, str]]:
    app = create_app(settings())
    routes = {(route.method.upper(), _shape(path)) for path, route in walk(app.routes)}
    routes |= {("GET", "/metrics"), ("GET", "/openapi.json"), ("WS", "/ws")}
    return routes


def test_every_served_route_is_documented_and_every_documented_route_is_served(
    settings: SettingsFactory,
) -> None:
    documented = documented_routes(DOC.read_text())
    served = served_routes(settings)
    assert sorted(served - documented) == [], "routes missing from docs/api.md"
    assert sorted(documented - served) == [], "docs/api.md names routes the app does not serve"


def test_documented_event_types_are_the_event_schema() -> None:
    documented = set(_EVENT.findall(DOC.read_text()))
    known = set(EVENT_TYPES) | set(WEBHOOK_EVENT_TYPES) | WEBHOOK_ONLY_EVENTS
    assert sorted(documented - known) == [], "docs/api.md names unknown event types"
    assert sorted(set(EVENT_TYPES) - documented) == [], "event types missing from docs/api.md"


def test_the_route_parser_sees_a_route_added_to_the_doc() -> None:
    routes = documented_routes("- `POST /api/things/{id}/frob?x=1` — frobs")
    assert routes == {("POST", "/api/things/{}/frob")}
