"""``/openapi.json``: the OpenAPI 3.1 document built from the declared ``ApiRoute``s.

Every operation documents its success body, its error responses (one shared Error schema),
bearer auth and the links its answer leads to; the bodies' schemas are generated from the
same pydantic models that validate and shape them, with the limits the settings give.
A test checks that every route appears here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount

from server.api import idempotency
from server.http.responses import JSONResponse
from server.http.routing import ApiPath, ApiRoute, Operation
from server.http.services import services
from server.http.shapes import Error, publish_limits
from server.settings import Settings

_REF = "#/components/schemas/{model}"

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


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _responses(op: Operation) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": HTTPStatus(op.status).phrase}
    if op.response is not None:
        ok["content"] = {op.media_type: {"schema": _ref(op.response)}}
    elif op.media_type != "application/json":
        ok["content"] = {op.media_type: {"schema": {"type": "string", "format": "binary"}}}
    responses: dict[str, Any] = {str(op.status): ok}
    if op.links:
        ok["links"] = {link.operation: link.document() for link in op.links}
    for status in op.also:
        other = dict(ok, description=HTTPStatus(status).phrase)
        other.pop("links", None)
        if 300 <= status < 400:
            other.pop("content", None)
        responses[str(status)] = other
    # 400 invalid_text: any path, query or read header that is not valid text (edge_text)
    errors = set(op.errors) | ({400, 401} if op.auth else set())
    for status in sorted(errors):
        responses[str(status)] = {
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"schema": _ref(Error)}},
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


def _models(routes: Sequence[tuple[str, ApiRoute]]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    """Every body the routes declare: requests as validated, answers as serialised."""
    found: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(Error, "serialization"): None}
    for _, route in routes:
        op = route.operation
        found.update(
            dict.fromkeys((body, "validation") for body in (op.body, op.multipart) if body)
        )
        if op.response is not None:
            found[op.response, "serialization"] = None
    return list(found)


def _components(models: list[tuple[type[BaseModel], JsonSchemaMode]]) -> dict[str, Any]:
    """``components.schemas`` for ``models`` and every model they refer to; docstrings
    are for maintainers, so they are not published."""
    _, definitions = models_json_schema(models, ref_template=_REF)
    components: dict[str, Any] = definitions.get("$defs", {})
    for schema in components.values():
        schema.pop("description", None)
    return components


def build_document(routes: Sequence[BaseRoute], settings: Settings) -> dict[str, Any]:
    """The document for ``routes``, with the limits ``settings`` give request bodies."""
    declared = list(walk(routes))
    paths: dict[str, dict[str, Any]] = {}
    for path, route in declared:
        clean = _PARAM.sub(r"{\1}", path)
        paths.setdefault(clean, {})[route.method.lower()] = _operation(path, route)
    components = _components(_models(declared))
    publish_limits(components, settings)
    return {
        "openapi": "3.1.0",
        "info": {"title": "reelay", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


async def openapi(request: Request) -> JSONResponse:
    """The document for this app's routes and limits."""
    return JSONResponse(build_document(request.app.routes, services(request).settings))
