"""The JSON bodies of projects, moments, exports and batches: what a client sends and what
it gets back, each declared once as a model that validates, shapes and documents it.

Answers are built from rows with ``Shape.from_row`` (or ``of`` where a field is derived),
never validated: a stored value is served as it is; request bodies validate with the limits
settings give them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from server.api.caption_shapes import Caption, CaptionCreate, CaptionStyle, CaptionStyleCreate
from server.domain import models
from server.domain.email_address import InvalidEmail, deliverable_address
from server.domain.models import MAX_ID_CHARS, ExportStatus
from server.http.shapes import (
    AtMost,
    Body,
    Distinct,
    ErrorDetail,
    Number,
    Shape,
    Text,
    Timestamp,
    refusal,
)
from workers.render.spec import AspectRatio, Resolution

MAX_NAME_CHARS = 255
MAX_TITLE_CHARS = 255
MAX_EMAIL_CHARS = 320
#: Float slack when comparing times (well under one frame).
TIME_EPSILON_S = 1e-3


# --- answers ---------------------------------------------------------------------------


class Project(Shape):
    id: str
    name: str
    duration_s: float
    width: int
    height: int
    fps: float
    has_audio: bool
    size_bytes: int
    created_at: Timestamp


class ProjectList(Shape):
    projects: list[Project]


class Moment(Shape):
    id: str
    project_id: str
    start_s: float
    end_s: float
    title: str
    focus_x: float = Field(ge=0, le=1)
    captions: list[Caption]
    caption_style: CaptionStyle
    created_at: Timestamp

    @classmethod
    def of(cls, row: models.Moment) -> Self:
        return cls.from_row(
            row,
            captions=[Caption.of(item) for item in row.captions or []],
            caption_style=CaptionStyle.of(row.caption_style),
        )


class MomentList(Shape):
    moments: list[Moment]


def video_url(export_id: str) -> str:
    return f"/api/exports/{export_id}/video"


class MediaLinks(Shape):
    """URLs a ``<video>``/``<img>`` can fetch without a token until ``expires_at``: the live
    preview (HLS), the poster (JPEG) and the finished MP4, each null until it exists."""

    preview_url: str | None
    poster_url: str | None
    video_url: str | None
    expires_at: Timestamp


class Export(Shape):
    id: str
    project_id: str
    moment_id: str
    batch_id: str
    aspect_ratio: AspectRatio
    resolution: Resolution
    captions: bool
    status: ExportStatus
    progress: float = Field(ge=0, le=1)
    chunks_done: int
    chunks_total: int
    eta_s: float | None
    speed: float | None
    video_url: str | None
    preview_url: str | None
    poster_url: str | None
    size_bytes: int | None
    duration_s: float | None
    width: int | None
    height: int | None
    error: ErrorDetail | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None

    @classmethod
    def of(cls, row: models.Export, media: MediaLinks | None = None) -> Self:
        """``media``: the signed preview and poster URLs, when the caller made them."""
        status = ExportStatus(row.status)
        error = None
        if row.error_code:
            error = ErrorDetail.model_construct(
                code=row.error_code, message=row.error_message or ""
            )
        completed = status == ExportStatus.COMPLETED
        return cls.from_row(
            row,
            status=status,
            video_url=video_url(row.id) if completed else None,
            preview_url=media.preview_url if media else None,
            poster_url=media.poster_url if media else None,
            error=error,
        )


class ExportList(Shape):
    exports: list[Export]


class ExportsAccepted(Shape):
    status: Literal["processing"]
    batch_id: str
    exports: list[Export]


class Batch(Shape):
    """A batch is processing until every export is terminal; progress is their mean."""

    id: str
    status: Literal["processing", "completed"]
    exports: list[Export]
    progress: float = Field(ge=0, le=1)

    @classmethod
    def of(cls, row: models.Batch, exports: Iterable[models.Export]) -> Self:
        items = list(exports)
        done = all(ExportStatus(e.status).is_terminal for e in items)
        return cls.model_construct(
            id=row.id,
            status="completed" if done else "processing",
            exports=[Export.of(e) for e in items],
            progress=sum(e.progress for e in items) / len(items) if items else 1.0,
        )


# --- requests --------------------------------------------------------------------------


class ProjectUpload(Body):
    """The multipart form of an upload (streamed by ``server.api.uploads``, not parsed as
    JSON: this model is its published schema and the home of its limits)."""

    file: bytes
    name: Annotated[Text, Field(max_length=MAX_NAME_CHARS)] = ""


class MomentCreate(Body):
    """Times are checked against the source by the route (they need the project)."""

    start_s: Annotated[Number, Field(ge=0)]
    end_s: Annotated[Number, Field(gt=0)]
    title: Annotated[Text, Field(max_length=MAX_TITLE_CHARS)] = ""
    focus_x: Annotated[Number, Field(ge=0, le=1)] = 0.5
    captions: Annotated[list[CaptionCreate], AtMost("max_captions")] = Field(default_factory=list)
    caption_style: CaptionStyleCreate | None = None

    @field_validator("end_s")
    @classmethod
    def _ends_after_start(cls, end_s: float, info: ValidationInfo) -> float:
        if "start_s" in info.data and end_s <= info.data["start_s"]:
            raise refusal(f"must be greater than start_s ({info.data['start_s']})")
        return end_s

    @model_validator(mode="after")
    def _captions_inside(self) -> Self:
        for index, caption in enumerate(self.captions):
            if (
                caption.start_s < self.start_s - TIME_EPSILON_S
                or caption.end_s > self.end_s + TIME_EPSILON_S
            ):
                raise refusal(
                    f"caption {caption.start_s}–{caption.end_s} s must lie inside the moment "
                    f"{self.start_s}–{self.end_s} s",
                    at=f"captions[{index}].start_s",
                )
        return self


def _deliverable(address: str) -> str:
    try:
        return deliverable_address(address)
    except InvalidEmail as exc:
        raise refusal(str(exc)) from exc


MomentId = Annotated[Text, Field(min_length=1, max_length=MAX_ID_CHARS)]
Email = Annotated[
    Text,
    Field(max_length=MAX_EMAIL_CHARS, json_schema_extra={"format": "email"}),
    AfterValidator(_deliverable),
]


class ExportCreate(Body):
    moment_ids: Annotated[
        list[MomentId], Field(min_length=1), AtMost("max_exports_per_request"), Distinct("a moment")
    ]
    aspect_ratio: AspectRatio = "9:16"
    resolution: Resolution = "720p"
    captions: bool = True
    notify_email: Email | None = None
