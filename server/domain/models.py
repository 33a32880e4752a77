"""The database: who owns what, what to cut, and where each export stands.

Every row carries the owning user (``user_id``, the JWT ``sub``) so one ownership check
serves every route. IDs are opaque prefixed strings (``prj_…``) generated here.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from server.adapters.auth import MAX_USER_ID_CHARS

#: The width of every id column; longer ids can name nothing.
MAX_ID_CHARS = 40


def new_id(prefix: str) -> str:
    """An opaque, URL-safe, unguessable ID such as ``exp_3kT9…``."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"


class ExportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES


#: The status sets, named once (the export state machine: server.domain.export_lifecycle).
#: Active exports hold one of their user's ``REELAY_MAX_ACTIVE_EXPORTS`` slots.
ACTIVE_STATUSES = frozenset({ExportStatus.QUEUED, ExportStatus.RUNNING, ExportStatus.CANCELLING})
TERMINAL_STATUSES = frozenset({ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELLED})
#: What ``POST /exports/{id}/retry`` accepts; a completed export is never rendered again.
RETRYABLE_STATUSES = frozenset({ExportStatus.FAILED, ExportStatus.CANCELLED})


class ChunkStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"


class Project(Model):
    """A source video uploaded by one user."""

    id = fields.CharField(pk=True, max_length=40)
    user_id = fields.CharField(max_length=MAX_USER_ID_CHARS, db_index=True)
    name = fields.CharField(max_length=255)
    source_key = fields.CharField(max_length=512)
    duration_s = fields.FloatField()
    width = fields.IntField()
    height = fields.IntField()
    fps = fields.FloatField()
    has_audio = fields.BooleanField()
    size_bytes = fields.BigIntField()
    # bumped each time Redis has neither seq counter nor log for this project
    # (server.domain.event_epochs): 1 = its first events, more = Redis lost them
    event_epoch = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "projects"


class Moment(Model):
    """A time range of a project's source, with optional captions in source time."""

    id = fields.CharField(pk=True, max_length=40)
    user_id = fields.CharField(max_length=MAX_USER_ID_CHARS, db_index=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="moments", on_delete=fields.CASCADE
    )
    start_s = fields.FloatField()
    end_s = fields.FloatField()
    title = fields.CharField(max_length=255, default="")
    focus_x = fields.FloatField(default=0.5)
    # "manual": focus_track if set, else focus_x; "auto": faces, analysed by each export
    focus_mode = fields.CharField(max_length=8, default="manual")
    # [{"t", "x", "y"?}] in source time (workers.render.focus), or None
    focus_track: fields.JSONField[list[dict[str, float]]] = fields.JSONField(null=True)
    # [{"start_s", "end_s", "text"}] in source time
    captions: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    # {"preset", "position", "size", "color", "highlight_color", "max_lines"}; null: defaults
    caption_style: fields.JSONField[dict[str, Any]] = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    project_id: str

    class Meta:
        table = "moments"


class Batch(Model):
    """The exports asked for by one POST /exports; completes when all of them end."""

    id = fields.CharField(pk=True, max_length=40)
    user_id = fields.CharField(max_length=MAX_USER_ID_CHARS, db_index=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="batches", on_delete=fields.CASCADE
    )
    completed_notified = fields.BooleanField(default=False)  # batch.completed emitted once
    created_at = fields.DatetimeField(auto_now_add=True)

    project_id: str

    class Meta:
        table = "batches"


class Export(Model):
    """One rendered clip of one moment at one aspect/resolution, and its progress."""

    id = fields.CharField(pk=True, max_length=40)
    user_id = fields.CharField(max_length=MAX_USER_ID_CHARS, db_index=True)
    project: fields.ForeignKeyRelation[Project] = fields.ForeignKeyField(
        "models.Project", related_name="exports", on_delete=fields.CASCADE
    )
    moment: fields.ForeignKeyRelation[Moment] = fields.ForeignKeyField(
        "models.Moment", related_name="exports", on_delete=fields.CASCADE
    )
    batch: fields.ForeignKeyRelation[Batch] = fields.ForeignKeyField(
        "models.Batch", related_name="exports", on_delete=fields.CASCADE
    )
    aspect_ratio = fields.CharField(max_length=16)
    resolution = fields.CharField(max_length=8)
    captions = fields.BooleanField(default=True)
    notify_email = fields.CharField(max_length=320, null=True)
    status = fields.CharEnumField(ExportStatus, max_length=16, default=ExportStatus.QUEUED)
    progress = fields.FloatField(default=0.0)
    chunks_done = fields.IntField(default=0)
    chunks_total = fields.IntField(default=0)
    frames_total = fields.IntField(default=0)
    chunk_s = fields.FloatField(default=6.0)  # fixed at creation so every worker plans alike
    eta_s = fields.FloatField(null=True)
    speed = fields.FloatField(null=True)
    video_key = fields.CharField(max_length=512, null=True)
    # the live preview: how many chunks from the first are playable (a run without a
    # gap), and the poster once the first chunk is stored
    preview_chunks = fields.IntField(default=0)
    poster_key = fields.CharField(max_length=512, null=True)
    size_bytes = fields.BigIntField(null=True)
    duration_s = fields.FloatField(null=True)
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    error_code = fields.CharField(max_length=64, null=True)
    error_message = fields.TextField(null=True)
    # bumped by retry; messages of older attempts are dropped as stale
    attempt = fields.IntField(default=1)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    heartbeat_at = fields.DatetimeField(null=True)
    # what plan_export decided, written once per attempt: {"attempt", "spec", "plan"} (the
    # render spec and RenderPlan.to_json), so chunks and the finalizer never probe again
    plan: fields.JSONField[dict[str, Any]] = fields.JSONField(null=True)
    # the focus track this attempt renders (stored with the plan), and whether auto reframe
    # found no face and fell back to the moment's focus_x
    focus_track: fields.JSONField[list[dict[str, float]]] = fields.JSONField(null=True)
    focus_fallback = fields.BooleanField(default=False)

    project_id: str
    moment_id: str
    batch_id: str

    class Meta:
        table = "exports"


class ExportChunk(Model):
    """Bookkeeping for one chunk of one export, so a redelivered message resumes."""

    id = fields.IntField(pk=True)
    export: fields.ForeignKeyRelation[Export] = fields.ForeignKeyField(
        "models.Export", related_name="chunks", on_delete=fields.CASCADE
    )
    index = fields.IntField()
    first_frame = fields.IntField()
    end_frame = fields.IntField()
    status = fields.CharEnumField(ChunkStatus, max_length=16, default=ChunkStatus.PENDING)
    storage_key = fields.CharField(max_length=512, null=True)
    # the chunk's preview segment; set in the same update that marks the chunk done
    segment_key = fields.CharField(max_length=512, null=True)
    render_s = fields.FloatField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    export_id: str

    class Meta:
        table = "export_chunks"
        unique_together = (("export", "index"),)


class IdempotencyRecord(Model):
    """A stored answer to POST /exports under an ``Idempotency-Key``, kept 24 h."""

    id = fields.IntField(pk=True)
    user_id = fields.CharField(max_length=MAX_USER_ID_CHARS)
    key = fields.CharField(max_length=255)
    request_hash = fields.CharField(max_length=64)
    response: fields.JSONField[dict[str, Any]] = fields.JSONField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "idempotency_records"
        unique_together = (("user_id", "key"),)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # an attempt is queued (now or after a retry delay)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # no attempt left: schedule exhausted, 410, or endpoint disabled


class WebhookEndpoint(Model):
    """A URL one user wants events POSTed to, signed with its own secret."""

    id = fields.CharField(pk=True, max_length=40)
    user_id = fields.CharField(max_length=MAX_USER_ID_CHARS, db_index=True)
    url = fields.CharField(max_length=2048)
    description = fields.CharField(max_length=255, default="")
    events: fields.JSONField[list[str]] = fields.JSONField(default=list)
    secret = fields.CharField(max_length=128)  # "whsec_…": signs, so it is stored as is
    enabled = fields.BooleanField(default=True)
    disabled_reason = fields.CharField(max_length=64, null=True)
    failing_since = fields.DatetimeField(null=True)  # first failure since the last success
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "webhook_endpoints"


class WebhookDelivery(Model):
    """One event on its way to one endpoint; the same body and ``webhook-id`` every attempt."""

    id = fields.CharField(pk=True, max_length=40)
    user_id = fields.CharField(max_length=MAX_USER_ID_CHARS, db_index=True)
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="deliveries", on_delete=fields.CASCADE
    )
    event_id = fields.CharField(max_length=40)
    event_type = fields.CharField(max_length=64)
    payload = fields.TextField()  # Event.to_json(), exactly the bytes that are signed
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    endpoint_id: str

    class Meta:
        table = "webhook_deliveries"
        unique_together = (("endpoint", "event_id"),)


class WebhookAttempt(Model):
    """The log line of one POST: what came back, how long it took, or what went wrong."""

    id = fields.IntField(pk=True)
    delivery: fields.ForeignKeyRelation[WebhookDelivery] = fields.ForeignKeyField(
        "models.WebhookDelivery", related_name="attempt_log", on_delete=fields.CASCADE
    )
    number = fields.IntField()
    manual = fields.BooleanField(default=False)
    success = fields.BooleanField()
    status_code = fields.IntField(null=True)
    duration_ms = fields.FloatField()
    response_snippet = fields.TextField(default="")
    error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    delivery_id: str

    class Meta:
        table = "webhook_attempts"
