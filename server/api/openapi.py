"""``/openapi.json``: the OpenAPI 3.1 document built from the declared ``ApiRoute``s.

Every operation documents its success body, its error responses (one shared Error schema)
and bearer auth, matching API.md; a test checks that every route appears here.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Sequence
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Mount

from server.api import idempotency
from server.api.schemas import COMPONENTS, request_schemas
from server.api.webhook_shapes import COMPONENTS as WEBHOOK_COMPONENTS
from server.http.responses import JSONResponse
from server.http.routing import ApiPath, ApiRoute, Operation
from server.http.services import services

_PARAM = re.compile(r"{(\w+)(?::\w+)?}")

#: Request headers the server validates (a bad value is a 400); others are advisory
#: (``Accept``, ``Last-Event-ID``): a value the server cannot use is ignored, not refused.
_HEADER_SCHEMAS: dict[str, dict[str, Any]] = {
    idempotency.HEADER: {
        "type": "string",
        "minLength": 1,
        "maxLength": idempotency.MAX_KEY_CHARS,
        "pattern": r"\S",
    },
}


#: Path parameters: any text without NUL (``server.http.edge_text``).
_PATH_SCHEMA: dict[str, Any] = {"type": "string", "pattern": "^[^\\u0000]*$"}


def walk(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, ApiRoute]]:
    """Every declared ``ApiRoute`` with its full path, looking inside mounts."""
    for route in routes:
        if isinstance(route, ApiPath):
            for declared in route.declared.values():
                yield prefix + route.path, declared
        elif isinstance(route, Mount):
            yield from walk(route.routes, prefix + route.path)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _responses(op: Operation) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": HTTPStatus(op.status).phrase}
    if op.response is not None:
        ok["content"] = {op.media_type: {"schema": _ref(op.response)}}
    elif op.media_type != "application/json":
        ok["content"] = {op.media_type: {"schema": {"type": "string", "format": "binary"}}}
    responses: dict[str, Any] = {str(op.status): ok}
    for status in op.also:
        other = dict(ok, description=HTTPStatus(status).phrase)
        if 300 <= status < 400:
            other.pop("content", None)
        responses[str(status)] = other
    # 400 invalid_text: any path, query or read header that is not valid text (edge_text)
    errors = set(op.errors) | ({400, 401} if op.auth else set())
    for status in sorted(errors):
        responses[str(status)] = {
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    return responses


def _operation(path: str, route: ApiRoute) -> dict[str, Any]:
    op = route.operation
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": _PATH_SCHEMA}
        for name in _PARAM.findall(path)
    ]
    for query in op.query:
        schema: dict[str, Any] = {"type": "integer", "minimum": query.minimum}
        if query.maximum is not None:
            schema["maximum"] = query.maximum
        if query.default is not None:
            schema["default"] = query.default
        params.append(
            {"name": query.name, "in": "query", "description": query.description, "schema": schema}
        )
    for header, description in op.headers:
        schema = _HEADER_SCHEMAS.get(header, {"type": "string"})
        params.append(
            {"name": header, "in": "header", "description": description, "schema": schema}
        )
    document: dict[str, Any] = {
        "operationId": route.name,
        "summary": op.summary,
        "responses": _responses(op),
    }
    if op.tags:
        document["tags"] = list(op.tags)
    if params:
        document["parameters"] = params
    if op.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(op.body)}},
        }
    if op.multipart is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": _ref(op.multipart)}},
        }
    document["security"] = [{"bearer": []}] if op.auth else []
    return document


def _refuse_nul(schema: Any, components: dict[str, Any], seen: set[str]) -> None:
    """Free-text strings of request bodies (no enum, format or pattern of their own) say
    what the API refuses: NUL (400 ``invalid_text``)."""
    if isinstance(schema, list):
        for item in schema:
            _refuse_nul(item, components, seen)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/") and ref not in seen:
        seen.add(ref)
        _refuse_nul(components[ref.rsplit("/", 1)[1]], components, seen)
    if schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
        schema["pattern"] = _PATH_SCHEMA["pattern"]
    for value in schema.values():
        _refuse_nul(value, components, seen)


def build_document(
    routes: Sequence[BaseRoute], *, max_exports_per_request: int, **limits: int
) -> dict[str, Any]:
    """The document; ``limits`` (``max_captions``, ``max_caption_chars``) as in settings."""
    paths: dict[str, dict[str, Any]] = {}
    for path, route in walk(routes):
        clean = _PARAM.sub(r"{\1}", path)
        paths.setdefault(clean, {})[route.method.lower()] = _operation(path, route)
    requests = copy.deepcopy(
        {**WEBHOOK_COMPONENTS, **request_schemas(max_exports_per_request, **limits)}
    )
    bodies = [
        op["requestBody"] for item in paths.values() for op in item.values() if "requestBody" in op
    ]
    _refuse_nul(bodies, requests, set())
    return {
        "openapi": "3.1.0",
        "info": {"title": "reelay", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": {**COMPONENTS, **requests},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


async def openapi(request: Request) -> JSONResponse:
    """The document for this app's routes and limits."""
    settings = services(request).settings
    return JSONResponse(
        build_document(
            request.app.routes,
            max_exports_per_request=settings.max_exports_per_request,
            max_captions=settings.max_captions,
            max_caption_chars=settings.max_caption_chars,
        )
    )
