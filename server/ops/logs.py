"""Operator-friendly logs: one JSON object per line, carrying request and export IDs.

Set ``REELAY_LOG_FORMAT=json`` (the default for ``reelay web``/``reelay worker``) or
``text`` (what ``reelay dev`` uses, for people reading interleaved output). The IDs ride
on context variables: the request-ID middleware sets one per HTTP request (echoed in the
``X-Request-ID`` header), the export actors set the other while they work.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import uvicorn.config
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: ContextVar[str | None] = ContextVar("reelay_request_id", default=None)
export_id_var: ContextVar[str | None] = ContextVar("reelay_export_id", default=None)

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ContextFilter(logging.Filter):
    """Copies the current request and export IDs onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.export_id = export_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "pid", "request_id", "export_id", "exc"}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process or os.getpid(),
        }
        for key in ("request_id", "export_id"):
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        # exc_text first: log redaction rewrites it, and exc_info would bring secrets back.
        if record.exc_text:
            entry["exc"] = record.exc_text
        elif record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(log_format: str, level: str) -> None:
    """Apply the format to every handler already installed (root, uvicorn's, Dramatiq's)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    logging.getLogger("reelay").setLevel(level.upper())
    loggers = [root, *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, ContextFilter) for f in handler.filters):
                handler.addFilter(ContextFilter())
            if log_format == "json":
                handler.setFormatter(JsonFormatter())


def uvicorn_log_config(log_format: str) -> dict[str, Any]:
    """uvicorn's own logging config, with our JSON formatter and ID filter when asked for."""
    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config.setdefault("filters", {})["context"] = {"()": ContextFilter}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("context")
    if log_format == "json":
        for formatter in config["formatters"].values():
            formatter.clear()
            formatter["()"] = JsonFormatter
    config["loggers"]["reelay"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


class RequestIdMiddleware:
    """Gives each HTTP request an ID (the caller's ``X-Request-ID`` when sane) and echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = (
            dict(scope.get("headers", [])).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        )
        request_id = offered if _VALID_REQUEST_ID.match(offered) else uuid.uuid4().hex
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
