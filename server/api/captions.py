"""Captions: subtitle files read into captions, a moment's captions and style replaced, and
word alignment of a transcript to a moment's audio (run by a worker, announced as events).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from server.api import shapes
from server.api.caption_shapes import (
    MAX_TRANSCRIPT_CHARS,
    AlignAccepted,
    AlignCreate,
    Caption,
    CaptionsUpdate,
    ParsedCaptions,
    SubtitleUpload,
)
from server.api.shapes import TIME_EPSILON_S
from server.api.uploads import MultipartUpload
from server.domain.alignment import ALIGN_ACTOR
from server.domain.models import Moment, Project
from server.errors import ApiError, PayloadTooLarge, ValidationFailed
from server.http.access import owned
from server.http.fields import read_json, validated
from server.http.routing import Routes, link
from server.http.services import current_user, services
from server.http.shapes import answer
from workers.render.subtitles import SubtitlesInvalid, parse_subtitles

routes = Routes("captions")

#: Subtitle files larger than this are refused (413 captions_too_large).
MAX_SUBTITLE_BYTES = 2 * 1024 * 1024
_ENVELOPE_BYTES = 64 * 1024


def _invalid(message: str) -> ApiError:
    return ApiError(message, code="captions_invalid", status=422)


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"file: subtitle files are at most {MAX_SUBTITLE_BYTES // (1024 * 1024)} MiB",
        code="captions_too_large",
    )


async def _read_file(request: Request) -> tuple[MultipartUpload, bytes]:
    """The file part, whole (it is small), and the form's other fields."""
    data = bytearray()
    try:
        upload = MultipartUpload(
            request, file_field="file", max_body_bytes=MAX_SUBTITLE_BYTES + _ENVELOPE_BYTES
        )
        if not await upload.open_file():
            raise ValidationFailed("file: required (a multipart part named 'file')")
        async for chunk in upload.file_chunks():
            data.extend(chunk)
            if len(data) > MAX_SUBTITLE_BYTES:
                raise _too_large()
        await upload.finish()
    except PayloadTooLarge as exc:
        if exc.code == "captions_too_large":
            raise
        raise _too_large() from exc
    return upload, bytes(data)


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length", "")
    return (length.isdigit() and int(length) > 0) or "transfer-encoding" in request.headers


def _offset(raw: str | None) -> float:
    if raw is None or not raw.strip():
        return 0.0
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValidationFailed("offset_s: must be a number of seconds") from exc
    if not -86400 <= value <= 86400:
        raise ValidationFailed("offset_s: must be between -86400 and 86400")
    return value


@routes.post(
    "/captions/parse",
    "Read a subtitle file (SRT, WebVTT, ASS/SSA) into captions",
    200,
    ParsedCaptions,
    multipart=SubtitleUpload,
    errors=(400, 413, 415, 422),
)
async def parse_captions(request: Request) -> Response:
    """``multipart/form-data`` with ``file`` and optional ``offset_s``; nothing is stored."""
    current_user(request)
    upload, data = await _read_file(request)
    offset_s = _offset(upload.fields.get("offset_s"))
    try:
        parsed = await asyncio.to_thread(parse_subtitles, data, offset_s)
    except SubtitlesInvalid as exc:
        name = upload.filename or "file"
        raise _invalid(f"{name}: {exc}") from exc
    captions = [
        Caption.of(
            {
                "start_s": c.start_s,
                "end_s": c.end_s,
                "text": c.text,
                "words": [
                    {"start_s": w.start_s, "end_s": w.end_s, "text": w.text} for w in c.words
                ],
            }
        )
        for c in parsed.captions
    ]
    return answer(ParsedCaptions.model_construct(format=parsed.format, captions=captions))


@routes.patch(
    "/moments/{moment_id}/captions",
    "Replace a moment's captions and caption style",
    200,
    shapes.Moment,
    body=CaptionsUpdate,
    errors=(400, 404, 413, 422),
    links=(link("get_moment", moment_id="$response.body#/id"),),
)
async def update_captions(request: Request) -> Response:
    """Fields left out keep their value; captions must lie inside the moment."""
    moment = await owned(Moment, request.path_params["moment_id"], current_user(request))
    asked = validated(request, CaptionsUpdate, await read_json(request))
    changes: dict[str, object] = {}
    if asked.captions is not None:
        for index, caption in enumerate(asked.captions):
            if (
                caption.start_s < moment.start_s - TIME_EPSILON_S
                or caption.end_s > moment.end_s + TIME_EPSILON_S
            ):
                raise ValidationFailed(
                    f"captions[{index}].start_s: caption {caption.start_s}–{caption.end_s} s "
                    f"must lie inside the moment {moment.start_s}–{moment.end_s} s"
                )
        changes["captions"] = [c.stored() for c in asked.captions]
    if asked.caption_style is not None:
        changes["caption_style"] = asked.caption_style.model_dump()
    if changes:
        await Moment.filter(id=moment.id).update(**changes)
        moment = await Moment.get(id=moment.id)
    return answer(shapes.Moment.of(moment))


@routes.post(
    "/moments/{moment_id}/align",
    "Time a transcript's words to the moment's audio",
    202,
    AlignAccepted,
    body=AlignCreate,
    errors=(400, 404, 413, 415, 422),
    links=(link("get_moment", moment_id="$response.body#/moment_id"),),
)
async def align_moment(request: Request) -> Response:
    """Body ``{"text"}``, or none to align the moment's own caption text; the worker emits
    ``moment.aligned`` (or ``moment.align_failed``) on the project's event log."""
    user = current_user(request)
    moment = await owned(Moment, request.path_params["moment_id"], user)
    asked = AlignCreate()
    if _has_body(request):
        asked = validated(request, AlignCreate, await read_json(request))
    project = await Project.get(id=moment.project_id)
    if not project.has_audio:
        raise ApiError(
            "the project's video has no audio track to align words to",
            code="no_audio",
            status=422,
        )
    text = asked.text
    if text is None:
        if not moment.captions:
            raise ValidationFailed("text: required when the moment has no captions")
        joined = " ".join(str(c.get("text", "")) for c in moment.captions)
        if len(joined) > MAX_TRANSCRIPT_CHARS:
            raise ValidationFailed(
                f"text: the moment's captions are over {MAX_TRANSCRIPT_CHARS} characters"
            )
    await services(request).enqueuer.send(ALIGN_ACTOR, moment.id, text or "")
    return answer(AlignAccepted.model_construct(status="aligning", moment_id=moment.id), 202)
