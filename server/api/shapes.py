"""The JSON bodies of projects, moments, exports and batches: what a client sends and what
it gets back, each declared once as a model that validates, shapes and documents it.

Answers are built from rows with ``Shape.from_row`` (or ``of`` where a field is derived),
never validated: a stored value is served as it is; request bodies validate with the limits
settings give them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

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
from workers.render.focus import (
    MAX_FOCUS_POINTS,
    FocusMode,
    TrackProblem,
    check_track,
    track_to_json,
)
from workers.render.focus import FocusPoint as RenderFocusPoint
from workers.render.spec import AspectRatio, Resolution

MAX_NAME_CHARS = 255
MAX_TITLE_CHARS = 255
MAX_EMAIL_CHARS = 320
#: The code of a 422 for a focus track that cannot be rendered (the message names the point).
FOCUS_TRACK_INVALID_CODE = "focus_track_invalid"
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


class FocusPoint(Shape):
    """The crop's centre at source time ``t``: ``x``/``y`` fractions of the frame (``y``
    only when the crop is shorter than the source)."""

    t: float
    x: float = Field(ge=0, le=1)
    y: float | None = Field(default=None, ge=0, le=1)


def focus_points(stored: list[dict[str, float]] | None) -> list[FocusPoint] | None:
    if stored is None:
        return None
    return [FocusPoint.model_construct(None, **item) for item in stored]


class Moment(Shape):
    id: str
    project_id: str
    start_s: float
    end_s: float
    title: str
    focus_x: float = Field(ge=0, le=1)
    focus_mode: FocusMode
    focus_track: list[FocusPoint] | None
    captions: list[Caption]
    caption_style: CaptionStyle
    created_at: Timestamp

    @classmethod
    def of(cls, row: models.Moment) -> Self:
        return cls.from_row(
            row,
            captions=[Caption.of(item) for item in row.captions or []],
            caption_style=CaptionStyle.of(row.caption_style),
            focus_track=focus_points(row.focus_track),
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
    focus_track: list[FocusPoint] | None
    focus_fallback: bool
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
            focus_track=focus_points(row.focus_track),
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

    non_finite_fields = frozenset({"focus_track"})

    start_s: Annotated[Number, Field(ge=0)]
    end_s: Annotated[Number, Field(gt=0)]
    title: Annotated[Text, Field(max_length=MAX_TITLE_CHARS)] = ""
    focus_x: Annotated[Number, Field(ge=0, le=1)] = 0.5
    focus_mode: FocusMode = "manual"
    focus_track: Annotated[
        list[Any] | None,
        WithJsonSchema(
            {
                "type": ["array", "null"],
                "minItems": 1,
                "maxItems": MAX_FOCUS_POINTS,
                "items": FocusPoint.model_json_schema(),
            }
        ),
    ] = None
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

    @model_validator(mode="after")
    def _track_inside(self) -> Self:
        if self.focus_track is not None:
            check_focus_track(self.focus_track, self.start_s, self.end_s)
        return self

    def stored_track(self) -> list[dict[str, float]] | None:
        """The track as the row keeps it (checked by the validator)."""
        if self.focus_track is None:
            return None
        return track_to_json(_points(self.focus_track))


def _points(items: list[Any]) -> list[RenderFocusPoint]:
    """Each item as a point; raises TrackProblem naming the first that is not an object of
    numbers ``t``, ``x`` and optionally ``y``."""
    points = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise TrackProblem("must be an object {t, x, y?}", index)
        values = {}
        for key in ("t", "x", "y"):
            value = item.get(key)
            if value is None and key == "y":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TrackProblem(f"{key} must be a number", index)
            values[key] = float(value)
        points.append(RenderFocusPoint(values["t"], values["x"], values.get("y")))
    return points


def check_focus_track(items: list[Any], start_s: float, end_s: float) -> None:
    """A 422 ``focus_track_invalid`` naming the first bad point of a client's track."""
    try:
        if len(items) > MAX_FOCUS_POINTS:
            raise TrackProblem(f"at most {MAX_FOCUS_POINTS} points", MAX_FOCUS_POINTS)
        check_track(_points(items), start_s, end_s)
    except TrackProblem as exc:
        at = "focus_track" if exc.index is None else f"focus_track[{exc.index}]"
        raise refusal(str(exc), code=FOCUS_TRACK_INVALID_CODE, at=at) from exc


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
