"""Bodies declared once, as pydantic models: one declaration validates a request, shapes an
answer and is the JSON Schema ``/openapi.json`` publishes.

Request bodies (``Body``) validate strictly — JSON types as sent, so ``"1"`` is not a
number and ``1`` is not ``true`` — and read only their own fields. ``as_api_error`` turns
pydantic's error list into our answers: a NUL where a string is read is a 400
``invalid_text``, anything else a 422 whose message starts with the field's name
(``captions[0].text: …``), as the page expects. Answers (``Shape``) are built from rows
and dumped to plain JSON values; they never refuse what the database hands them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    FiniteFloat,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema
from pydantic_core.core_schema import CoreSchema

from server.errors import ApiError, ValidationFailed
from server.http.responses import JSONResponse
from server.settings import Settings
from server.text import INVALID_TEXT_CODE

#: Strings without NUL (PostgreSQL cannot store it): what the schema says of free text.
NO_NUL_PATTERN = "^[^\\u0000]*$"

#: Where a schema names the setting that bounds it, until ``publish_limits`` fills it in.
LIMIT_KEY = "x-limit-setting"

#: The pydantic error type of a refusal raised by our own validators (``refusal``).
REFUSED = "refused"


def refusal(message: str, *, code: str = ValidationFailed.code, at: str = "") -> Exception:
    """A validator's refusal: a 422 with ``code`` (a 400 for ``invalid_text``); ``at``
    names the field when it is not where the validator sits (a check across fields)."""
    return PydanticCustomError(REFUSED, "{message}", {"message": message, "code": code, "at": at})


class _Rule(ABC):
    """A validation step and what the JSON Schema says of it, declared together."""

    before = False

    @abstractmethod
    def check(self, value: Any, info: ValidationInfo) -> Any:
        """The value, checked (and possibly normalised); raises ``refusal`` otherwise."""

    @abstractmethod
    def describe(self, schema: JsonSchemaValue) -> None:
        """Add to ``schema`` what this rule promises, so the document says what is checked."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        inner = handler(source)
        if self.before:
            return core_schema.with_info_before_validator_function(self.check, inner)
        return core_schema.with_info_after_validator_function(self.check, inner)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        described = handler(schema)
        self.describe(described)
        return described


class NoNul(_Rule):
    """Refuses NUL before any other check of the string (400 ``invalid_text``)."""

    before = True

    def check(self, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise refusal("contains a NUL character, which is not accepted", code=INVALID_TEXT_CODE)
        return value

    def describe(self, schema: JsonSchemaValue) -> None:
        schema.setdefault("pattern", NO_NUL_PATTERN)


class NotBlank(_Rule):
    """Text with something besides white space."""

    def check(self, value: Any, info: ValidationInfo) -> Any:
        if not value.strip():
            raise refusal("must not be empty")
        return value

    def describe(self, schema: JsonSchemaValue) -> None:
        schema["pattern"] = r"\S"


class Distinct(_Rule):
    """An array whose items are all different; ``what`` names one in the message."""

    def __init__(self, what: str) -> None:
        self.what = what

    def check(self, value: Any, info: ValidationInfo) -> Any:
        if len(set(value)) != len(value):
            raise refusal(f"must not repeat {self.what}")
        return value

    def describe(self, schema: JsonSchemaValue) -> None:
        schema["uniqueItems"] = True


class AtMost(_Rule):
    """At most as many items (or characters) as the setting ``setting`` allows: checked
    against the settings ``read_body`` passes as context, and published under
    ``LIMIT_KEY`` for ``/openapi.json`` to fill in with the live number."""

    def __init__(self, setting: str) -> None:
        self.setting = setting

    def check(self, value: Any, info: ValidationInfo) -> Any:
        context = info.context or {}
        settings = context.get("settings")
        if not isinstance(settings, Settings):
            raise TypeError("validate request bodies with context={'settings': Settings}")
        limit = int(getattr(settings, self.setting))
        if len(value) > limit:
            if isinstance(value, str):
                raise refusal(f"too long (max {limit} characters)")
            raise refusal(f"at most {limit} items")
        return value

    def describe(self, schema: JsonSchemaValue) -> None:
        schema[LIMIT_KEY] = self.setting


def publish_limits(schema: Any, settings: Settings) -> None:
    """Replace every ``LIMIT_KEY`` in ``schema`` (in place) by ``maxItems``/``maxLength``
    with the live setting, so the document says what validation does."""
    if isinstance(schema, list):
        for item in schema:
            publish_limits(item, settings)
    elif isinstance(schema, dict):
        setting = schema.pop(LIMIT_KEY, None)
        if setting is not None:
            key = "maxItems" if schema.get("type") == "array" else "maxLength"
            schema[key] = int(getattr(settings, setting))
        for value in schema.values():
            publish_limits(value, settings)


#: Free text a client sends: a string without NUL.
Text = Annotated[str, NoNul()]
#: A JSON number that is finite (not a boolean, not an integer too large for a float).
Number = FiniteFloat


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, millisecond precision."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: A stored time, answered as ISO 8601 in UTC.
Timestamp = Annotated[
    datetime,
    PlainSerializer(iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class Body(BaseModel):
    """A JSON request body: strict types, unknown keys ignored (and never judged); validate
    with ``context={"settings": settings}`` for the limits that are settings (``AtMost``)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    #: Top-level fields whose own validator refuses ``NaN``/``Infinity`` (naming where);
    #: anywhere else the parser refuses them (400 ``malformed_json``).
    non_finite_fields: ClassVar[frozenset[str]] = frozenset()


class Shape(BaseModel):
    """A JSON answer, built from rows; ``answer`` sends it."""

    model_config = ConfigDict(frozen=True)

    @classmethod
    def from_row(cls, row: object, **values: Any) -> Self:
        """The answer for ``row``: each field not in ``values`` is the row's attribute of
        that name. Nothing is validated: a stored value is served as it is, never refused."""
        read = {name: getattr(row, name) for name in cls.model_fields if name not in values}
        return cls.model_construct(**read, **values)


def answer(shape: BaseModel, status_code: int = 200) -> JSONResponse:
    """``shape`` as the response body: times as ISO text, stored text as it is (the
    response repairs what cannot be encoded rather than failing); a field with a default
    that was not given (``reset``, ``down``) is left out."""
    return JSONResponse(shape.model_dump(mode="json", exclude_unset=True), status_code=status_code)


def location(loc: Sequence[int | str]) -> str:
    """``("captions", 0, "text")`` → ``captions[0].text``; the body itself → ``body``."""
    label = ""
    for part in loc:
        label += f"[{part}]" if isinstance(part, int) else f".{part}" if label else str(part)
    return label or "body"


def _limit(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


_PROBLEMS: dict[str, Callable[[dict[str, Any]], str]] = {
    "missing": lambda ctx: "required",
    "float_type": lambda ctx: "must be a number",
    "finite_number": lambda ctx: "must be a finite number",
    "string_type": lambda ctx: "must be a string",
    "bool_type": lambda ctx: "must be true or false",
    "list_type": lambda ctx: "must be an array",
    "model_type": lambda ctx: "must be an object",
    "literal_error": lambda ctx: f"must be one of {ctx['expected']}",
    "greater_than_equal": lambda ctx: f"must be at least {_limit(ctx['ge'])}",
    "greater_than": lambda ctx: f"must be greater than {_limit(ctx['gt'])}",
    "less_than_equal": lambda ctx: f"must be at most {_limit(ctx['le'])}",
    "string_too_short": lambda ctx: (
        "must not be empty" if ctx["min_length"] == 1 else f"too short (min {ctx['min_length']})"
    ),
    "string_too_long": lambda ctx: f"too long (max {ctx['max_length']} characters)",
    "too_short": lambda ctx: (
        "must not be empty" if ctx["min_length"] == 1 else f"at least {ctx['min_length']} items"
    ),
    "too_long": lambda ctx: f"at most {ctx['max_length']} items",
}


def as_api_error(exc: ValidationError) -> ApiError:
    """The answer for a body that failed validation: a NUL anywhere read is a 400
    ``invalid_text`` (malformed before wrong), else the first field's 422."""
    errors = exc.errors(include_url=False, include_input=False)
    codes = [error.get("ctx", {}).get("code") for error in errors]
    first = errors[codes.index(INVALID_TEXT_CODE)] if INVALID_TEXT_CODE in codes else errors[0]
    ctx: dict[str, Any] = first.get("ctx", {})
    if first["type"] == REFUSED:
        where = ctx["at"] or location(first["loc"])
        status = 400 if ctx["code"] == INVALID_TEXT_CODE else ValidationFailed.status
        return ApiError(f"{where}: {ctx['message']}", code=ctx["code"], status=status)
    explain = _PROBLEMS.get(first["type"])
    problem = explain(ctx) if explain is not None else first["msg"]
    return ValidationFailed(f"{location(first['loc'])}: {problem}")


class ErrorDetail(Shape):
    code: str
    message: str


class Error(Shape):
    """Every 4xx and 5xx body (``server.http.error_handlers``)."""

    error: ErrorDetail
