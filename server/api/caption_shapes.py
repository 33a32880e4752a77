"""The JSON bodies of captions: words, styles, parsed subtitle files and alignment requests.

The rules that are the render engine's (word timing, style ranges) are declared here for
the API and checked again by the engine, from ``workers.render.spec``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import Field, ValidationInfo, field_validator

from server.http.shapes import AtMost, Body, NotBlank, Number, Shape, Text, refusal
from workers.render.spec import (
    CAPTION_MAX_LINES_RANGE,
    CAPTION_SIZE_RANGE,
    CaptionPosition,
    CaptionPreset,
    caption_from_json,
)
from workers.render.spec import (
    CaptionStyle as StyleValue,
)

#: A transcript to align: longer ones are refused (422 validation_error).
MAX_TRANSCRIPT_CHARS = 5000
HEX_COLOR = r"^#[0-9A-Fa-f]{6}$"
Color = Annotated[Text, Field(pattern=HEX_COLOR)]


class Word(Shape):
    start_s: float
    end_s: float
    text: str


class Caption(Shape):
    start_s: float
    end_s: float
    text: str
    words: list[Word] = Field(default_factory=list)

    @classmethod
    def of(cls, item: dict[str, Any]) -> Self:
        """A stored caption as answered: ``words`` only when it has word timing."""
        values: dict[str, Any] = {
            "start_s": item["start_s"],
            "end_s": item["end_s"],
            "text": item["text"],
        }
        if item.get("words"):
            values["words"] = [Word.model_construct(**w) for w in item["words"]]
        return cls.model_construct(**values)


class CaptionStyle(Shape):
    """How captions are drawn (every field filled; the defaults are those of a moment that
    never chose)."""

    preset: CaptionPreset = "classic"
    position: CaptionPosition = "bottom"
    size: float = 1.0
    color: str = "#FFFFFF"
    highlight_color: str = "#FFFF00"
    max_lines: int = 2

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> Self:
        value = StyleValue.from_json(stored)
        return cls.model_construct(**{name: getattr(value, name) for name in cls.model_fields})


class WordCreate(Body):
    start_s: Annotated[Number, Field(ge=0)]
    end_s: Number
    text: Annotated[Text, Field(min_length=1, max_length=200), NotBlank()]


class CaptionCreate(Body):
    start_s: Annotated[Number, Field(ge=0)]
    end_s: Number
    text: Annotated[Text, Field(min_length=1), AtMost("max_caption_chars"), NotBlank()]
    words: Annotated[list[WordCreate], Field(max_length=1000)] = Field(default_factory=list)

    @field_validator("end_s")
    @classmethod
    def _ends_after_start(cls, end_s: float, info: ValidationInfo) -> float:
        if "start_s" in info.data and end_s <= info.data["start_s"]:
            raise refusal("must be greater than start_s")
        return end_s

    @field_validator("words")
    @classmethod
    def _words_time_the_text(
        cls, words: list[WordCreate], info: ValidationInfo
    ) -> list[WordCreate]:
        if not words or not {"start_s", "end_s", "text"} <= info.data.keys():
            return words
        caption = caption_from_json({**info.data, "words": [w.model_dump() for w in words]})
        problem = caption.words_problem()
        if problem is not None:
            raise refusal(problem)
        return words

    def stored(self) -> dict[str, Any]:
        """The caption as a moment stores it (``words`` only when it has them)."""
        item: dict[str, Any] = {"start_s": self.start_s, "end_s": self.end_s, "text": self.text}
        if self.words:
            item["words"] = [w.model_dump() for w in self.words]
        return item


class CaptionStyleCreate(Body):
    preset: CaptionPreset = "classic"
    position: CaptionPosition = "bottom"
    size: Annotated[Number, Field(ge=CAPTION_SIZE_RANGE[0], le=CAPTION_SIZE_RANGE[1])] = 1.0
    color: Color = "#FFFFFF"
    highlight_color: Color = "#FFFF00"
    max_lines: Annotated[
        int, Field(ge=CAPTION_MAX_LINES_RANGE[0], le=CAPTION_MAX_LINES_RANGE[1])
    ] = 2


class CaptionsUpdate(Body):
    """A moment's captions and style, replaced together (``PUT /moments/{id}/captions``);
    a field left out keeps what the moment has."""

    captions: Annotated[list[CaptionCreate], AtMost("max_captions")] | None = None
    caption_style: CaptionStyleCreate | None = None


class SubtitleUpload(Body):
    """The multipart form of ``POST /captions/parse`` (read by ``server.api.uploads``, not
    parsed as JSON: this model is its published schema)."""

    file: bytes
    offset_s: Annotated[Number, Field(ge=-86400, le=86400)] | None = None


class ParsedCaptions(Shape):
    """A subtitle file read into captions (nothing stored)."""

    format: Literal["srt", "vtt", "ass", "ssa"]
    captions: list[Caption]


class AlignCreate(Body):
    """The transcript to align to the moment's audio; none: the moment's caption text."""

    text: (
        Annotated[Text, Field(min_length=1, max_length=MAX_TRANSCRIPT_CHARS), NotBlank()] | None
    ) = None


class AlignAccepted(Shape):
    status: Literal["aligning"]
    moment_id: str
