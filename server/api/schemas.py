"""The JSON shape of every resource, and its JSON Schema beside it so the two agree.

``*_json`` functions turn rows into response bodies; ``COMPONENTS`` is what
``/openapi.json`` publishes for the same bodies.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from server.domain.models import MAX_ID_CHARS, Batch, Export, ExportStatus, Moment, Project

ASPECT_RATIO_VALUES = ["9:16", "1:1", "4:5", "16:9", "original"]
RESOLUTION_VALUES = ["720p", "1080p"]
STATUS_VALUES = [status.value for status in ExportStatus]


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, millisecond precision."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def video_url(export_id: str) -> str:
    return f"/api/exports/{export_id}/video"


def project_json(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "duration_s": project.duration_s,
        "width": project.width,
        "height": project.height,
        "fps": project.fps,
        "has_audio": project.has_audio,
        "size_bytes": project.size_bytes,
        "created_at": iso(project.created_at),
    }


def moment_json(moment: Moment) -> dict[str, Any]:
    return {
        "id": moment.id,
        "project_id": moment.project_id,
        "start_s": moment.start_s,
        "end_s": moment.end_s,
        "title": moment.title,
        "focus_x": moment.focus_x,
        "captions": list(moment.captions or []),
        "created_at": iso(moment.created_at),
    }


def export_json(export: Export) -> dict[str, Any]:
    completed = export.status == ExportStatus.COMPLETED
    error = None
    if export.error_code:
        error = {"code": export.error_code, "message": export.error_message or ""}
    return {
        "id": export.id,
        "project_id": export.project_id,
        "moment_id": export.moment_id,
        "batch_id": export.batch_id,
        "aspect_ratio": export.aspect_ratio,
        "resolution": export.resolution,
        "captions": export.captions,
        "status": ExportStatus(export.status).value,
        "progress": export.progress,
        "chunks_done": export.chunks_done,
        "chunks_total": export.chunks_total,
        "eta_s": export.eta_s,
        "speed": export.speed,
        "video_url": video_url(export.id) if completed else None,
        "size_bytes": export.size_bytes,
        "duration_s": export.duration_s,
        "width": export.width,
        "height": export.height,
        "error": error,
        "created_at": iso(export.created_at),
        "started_at": iso(export.started_at),
        "finished_at": iso(export.finished_at),
    }


def batch_json(batch: Batch, exports: Iterable[Export]) -> dict[str, Any]:
    """A batch is processing until every export is terminal; progress is their mean."""
    items = list(exports)
    done = all(ExportStatus(e.status).is_terminal for e in items)
    progress = sum(e.progress for e in items) / len(items) if items else 1.0
    return {
        "id": batch.id,
        "status": "completed" if done else "processing",
        "exports": [export_json(e) for e in items],
        "progress": progress,
    }


def obj_schema(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def ref_schema(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_TIME = {"type": "string", "format": "date-time"}
_NUM = {"type": "number"}
_INT = {"type": "integer"}
_STR = {"type": "string"}
_BOOL = {"type": "boolean"}

_CAPTION = obj_schema(["start_s", "end_s", "text"], {"start_s": _NUM, "end_s": _NUM, "text": _STR})

_EXPORT_PROPS: dict[str, Any] = {
    "id": _STR,
    "project_id": _STR,
    "moment_id": _STR,
    "batch_id": _STR,
    "aspect_ratio": {"type": "string", "enum": ASPECT_RATIO_VALUES},
    "resolution": {"type": "string", "enum": RESOLUTION_VALUES},
    "captions": _BOOL,
    "status": {"type": "string", "enum": STATUS_VALUES},
    "progress": {"type": "number", "minimum": 0, "maximum": 1},
    "chunks_done": _INT,
    "chunks_total": _INT,
    "eta_s": nullable_schema(_NUM),
    "speed": nullable_schema(_NUM),
    "video_url": nullable_schema(_STR),
    "size_bytes": nullable_schema(_INT),
    "duration_s": nullable_schema(_NUM),
    "width": nullable_schema(_INT),
    "height": nullable_schema(_INT),
    "error": nullable_schema(ref_schema("ErrorDetail")),
    "created_at": _TIME,
    "started_at": nullable_schema(_TIME),
    "finished_at": nullable_schema(_TIME),
}

_EVENT = obj_schema(
    ["id", "seq", "type", "project_id", "ts", "data"],
    {
        "id": _STR,
        "seq": {"type": "integer", "minimum": 1},
        "type": {"type": "string"},
        "project_id": _STR,
        "export_id": nullable_schema(_STR),
        "batch_id": nullable_schema(_STR),
        "ts": _TIME,
        "data": {"type": "object"},
    },
)

#: Published under ``components.schemas``; request schemas take live limits from settings.
COMPONENTS: dict[str, Any] = {
    "ErrorDetail": obj_schema(["code", "message"], {"code": _STR, "message": _STR}),
    "Error": obj_schema(["error"], {"error": ref_schema("ErrorDetail")}),
    "Project": obj_schema(
        [
            "id",
            "name",
            "duration_s",
            "width",
            "height",
            "fps",
            "has_audio",
            "size_bytes",
            "created_at",
        ],
        {
            "id": _STR,
            "name": _STR,
            "duration_s": _NUM,
            "width": _INT,
            "height": _INT,
            "fps": _NUM,
            "has_audio": _BOOL,
            "size_bytes": _INT,
            "created_at": _TIME,
        },
    ),
    "ProjectList": obj_schema(
        ["projects"], {"projects": {"type": "array", "items": ref_schema("Project")}}
    ),
    "Caption": _CAPTION,
    "Moment": obj_schema(
        ["id", "project_id", "start_s", "end_s", "title", "focus_x", "captions", "created_at"],
        {
            "id": _STR,
            "project_id": _STR,
            "start_s": _NUM,
            "end_s": _NUM,
            "title": _STR,
            "focus_x": {"type": "number", "minimum": 0, "maximum": 1},
            "captions": {"type": "array", "items": ref_schema("Caption")},
            "created_at": _TIME,
        },
    ),
    "MomentList": obj_schema(
        ["moments"], {"moments": {"type": "array", "items": ref_schema("Moment")}}
    ),
    "Export": obj_schema(list(_EXPORT_PROPS), _EXPORT_PROPS),
    "ExportList": obj_schema(
        ["exports"], {"exports": {"type": "array", "items": ref_schema("Export")}}
    ),
    "ExportsAccepted": obj_schema(
        ["status", "batch_id", "exports"],
        {
            "status": {"type": "string", "enum": ["processing"]},
            "batch_id": _STR,
            "exports": {"type": "array", "items": ref_schema("Export")},
        },
    ),
    "Batch": obj_schema(
        ["id", "status", "exports", "progress"],
        {
            "id": _STR,
            "status": {"type": "string", "enum": ["processing", "completed"]},
            "exports": {"type": "array", "items": ref_schema("Export")},
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
        },
    ),
    "Event": _EVENT,
    "EventPage": obj_schema(
        ["events", "last_seq"],
        {
            "events": {"type": "array", "items": ref_schema("Event")},
            "last_seq": {"type": "integer", "minimum": 0},
            "reset": _BOOL,
        },
    ),
    "Health": obj_schema(["status"], {"status": _STR}),
    "Readiness": obj_schema(
        ["status", "checks"],
        {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "checks": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    ),
}

MAX_NAME_CHARS = 255
MAX_TITLE_CHARS = 255
MAX_CAPTION_CHARS = 500
MAX_CAPTIONS = 500
MAX_EMAIL_CHARS = 320


def request_schemas(
    max_exports_per_request: int,
    *,
    max_captions: int = MAX_CAPTIONS,
    max_caption_chars: int = MAX_CAPTION_CHARS,
) -> dict[str, Any]:
    """Request bodies; limits come from settings so the document tells the truth."""
    text = {"type": "string", "minLength": 1, "maxLength": max_caption_chars, "pattern": r"\S"}
    return {
        "ProjectUpload": obj_schema(
            ["file"],
            {
                "file": {"type": "string", "format": "binary"},
                "name": {"type": "string", "maxLength": MAX_NAME_CHARS},
            },
        ),
        "CaptionCreate": obj_schema(
            ["start_s", "end_s", "text"],
            {"start_s": {"type": "number", "minimum": 0}, "end_s": _NUM, "text": text},
        ),
        "MomentCreate": obj_schema(
            ["start_s", "end_s"],
            {
                "start_s": {"type": "number", "minimum": 0},
                "end_s": {"type": "number", "exclusiveMinimum": 0},
                "title": {"type": "string", "maxLength": MAX_TITLE_CHARS},
                "focus_x": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5},
                "captions": {
                    "type": "array",
                    "maxItems": max_captions,
                    "items": ref_schema("CaptionCreate"),
                },
            },
        ),
        "ExportCreate": obj_schema(
            ["moment_ids"],
            {
                "moment_ids": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS},
                    "minItems": 1,
                    "maxItems": max_exports_per_request,
                    "uniqueItems": True,
                },
                "aspect_ratio": {"type": "string", "enum": ASPECT_RATIO_VALUES, "default": "9:16"},
                "resolution": {"type": "string", "enum": RESOLUTION_VALUES, "default": "720p"},
                "captions": {"type": "boolean", "default": True},
                "notify_email": nullable_schema(
                    {"type": "string", "format": "email", "maxLength": MAX_EMAIL_CHARS}
                ),
            },
        ),
    }
