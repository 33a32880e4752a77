"""Every knob of reelay in one place: one ``Settings`` class, read from ``REELAY_*`` variables.

Defaults are the embedded stack (SQLite, local storage, an embedded Redis); code receives
a ``Settings`` value and never reads the environment itself. ``load_settings`` is the only
reader of the environment: ``Settings(...)`` takes only what it is given (and its defaults),
so a test that builds one is not changed by whatever ``REELAY_*`` its shell exports.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_core import PydanticUseDefault
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

#: Presigned and signed media URLs live at most this long (seconds), whatever is configured.
MAX_PRESIGN_EXPIRES_S = 3600
ENV_PREFIX = "REELAY_"


class SettingsError(ValueError):
    """A ``REELAY_*`` variable holds a value we cannot use; the message names it."""


def _unset_if_empty(value: object) -> object:
    """An empty optional string means "not configured", like an absent variable."""
    return None if value == "" else value


def _comma_separated(value: object) -> object:
    """``"a, b"`` → ``("a", "b")``; blank → the field's default; tuples pass through."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        raise PydanticUseDefault
    return tuple(part.strip() for part in value.split(","))


def _origins(value: object) -> object:
    """Comma-separated origins; blank entries (``"a,,b"``, a trailing comma) are skipped."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


OptionalText = Annotated[str | None, BeforeValidator(_unset_if_empty)]
Count = Annotated[int, Field(ge=0)]
AtLeastOne = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(ge=0)]
Interval = Annotated[float, Field(gt=0)]  # drives a loop or a deadline: zero is meaningless
Schedule = Annotated[tuple[Seconds, ...], NoDecode, BeforeValidator(_comma_separated)]
Origins = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_origins)]


class Settings(BaseSettings):
    """Configuration for web, worker and notifier processes; README's table lists each one."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, populate_by_name=True
    )

    data_dir: Path = Field(Path("data"), description="SQLite, local media, scratch, Redis")
    database_url: str = Field("", description="empty → SQLite file under data_dir")
    redis_url: OptionalText = Field(None, description="None → embedded Redis from `reelay dev`")
    storage_url: str = Field("", description="empty → data_dir/media; or s3://bucket/prefix")
    s3_endpoint_url: OptionalText = Field(None, description="S3-compatible store; None → AWS")
    s3_region: str = Field("us-east-1", description="region of the S3 bucket")
    jwt_secret: str = Field(
        "reelay-dev-secret-change-me-in-production", description="HS256 key (dev default)"
    )
    jwt_issuer: OptionalText = Field(None, description="required `iss` of tokens, if set")
    jwt_audience: OptionalText = Field(None, description="required `aud` of tokens, if set")
    jwks_url: OptionalText = Field(None, description="https JWKS of a hosted identity provider")
    max_upload_mb: int = Field(2048, gt=0, description="uploads over this → 413")
    max_source_s: Seconds = Field(4 * 3600.0, description="longer sources → 422")
    max_moment_s: Seconds = Field(180.0, description="longer moments → 422")
    max_exports_per_request: Count = Field(20, description="moments in one POST /exports")
    max_active_exports_per_user: Count = Field(
        20,
        validation_alias="REELAY_MAX_ACTIVE_EXPORTS",
        description="queued + running exports per user; more → 429",
    )
    max_source_width: Count = Field(7680, description="display pixels; wider → 422")
    max_source_height: Count = Field(7680, description="display pixels; taller → 422")
    max_source_pixels: Count = Field(7680 * 4320, description="width × height; more → 422")
    min_source_side: Count = Field(16, description="narrower or shorter sources → 422")
    max_json_bytes: Count = Field(1024 * 1024, description="JSON request bodies; larger → 413")
    max_captions: Count = Field(500, description="captions per moment; more → 422")
    max_caption_chars: Count = Field(500, description="characters per caption; more → 422")
    chunk_s: Interval = Field(6.0, description="chunk length for parallel rendering")
    render_preset: str = Field("veryfast", description="libx264 preset")
    render_crf: int = Field(23, ge=0, le=51, description="libx264 constant rate factor")
    focus_max_pan: float = Field(
        0.25, gt=0, le=10, description="auto reframe: crop widths per second the camera pans"
    )
    event_log_maxlen: Count = Field(10_000, description="events kept per project log")
    event_log_max_age_s: Interval = Field(7 * 24 * 3600.0, description="event age kept")
    progress_min_interval_s: Seconds = Field(0.25, description="in-chunk progress throttle")
    stall_after_s: Interval = Field(90.0, description="no progress this long → re-planned")
    broker_heartbeat_timeout_s: Interval = Field(15.0, description="silent worker → dead")
    sweep_interval_s: Interval = Field(15.0, description="how often the sweeper looks")
    max_stall_resumes: Count = Field(5, description="sweeps without progress before `stalled`")
    worker_redis_retry_s: Seconds = Field(30.0, description="Redis outage a step waits out")
    presign_expires_s: int = Field(
        300, ge=1, le=MAX_PRESIGN_EXPIRES_S, description="presigned S3 video URL lifetime"
    )
    live_preview: bool = Field(True, description="HLS preview segments and poster per chunk")
    media_url_ttl_s: int = Field(
        600,
        ge=1,
        le=MAX_PRESIGN_EXPIRES_S,
        description="signed preview/poster/video URL lifetime",
    )
    media_url_secret: OptionalText = Field(
        None, description="HMAC key of signed media URLs; None → derived from jwt_secret"
    )
    allowed_origins: Origins = Field((), description="CORS and /ws origins; () → same origin")
    ws_auth_timeout_s: Interval = Field(10.0, description="auth message deadline on /ws")
    ws_ping_interval_s: Interval = Field(20.0, description="idle sockets get a ping")
    ws_max_subscriptions: Count = Field(100, description="projects per socket")
    ws_max_sockets_per_user: Count = Field(20, description="sockets per user per process")
    ws_max_message_bytes: AtLeastOne = Field(16_384, description="largest client frame")
    ws_send_queue: AtLeastOne = Field(1_024, description="queued messages before 4008")
    sse_keepalive_s: Interval = Field(15.0, description="SSE keep-alive comment period")
    webhooks_allow_private: bool = Field(False, description="allow private/loopback targets")
    webhook_timeout_s: Interval = Field(10.0, description="connect + send + answer, in total")
    webhook_retry_schedule_s: Schedule = Field(
        (5, 300, 1800, 7200, 18000, 36000, 36000), description="delays before each retry"
    )
    webhook_disable_after_s: Seconds = Field(5 * 24 * 3600.0, description="failing → disabled")
    webhook_max_in_flight_per_endpoint: AtLeastOne = Field(4, description="POSTs to one URL")
    webhook_max_in_flight_per_user: AtLeastOne = Field(16, description="POSTs for one user")
    notifier_threads: AtLeastOne = Field(64, description="deliveries in flight per notifier")
    smtp_url: OptionalText = Field(None, description="None → emails written to data_dir/outbox")
    smtp_from: str = Field("reelay <reelay@localhost>", description="From: of emails")
    public_url: str = Field("", description="base of links in emails; empty → host:port")
    host: str = Field("127.0.0.1", description="where `reelay dev`/`web` listen")
    port: int = Field(8000, ge=0, le=65535, description="where `reelay dev`/`web` listen")
    dev_workers: Count = Field(2, description="worker processes `reelay dev` runs")
    worker_threads: AtLeastOne = Field(1, description="actor threads per worker process")
    log_level: str = Field("info", description="logging level name")
    log_format: Literal["json", "text"] = Field("json", description="`text` for people")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the given values: ``load_settings`` is where the environment comes in."""
        return (init_settings,)

    def with_(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied and checked like any other value."""
        return _checked({**self.model_dump(), **changes})

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite://{(self.data_dir / 'reelay.sqlite3').resolve()}"

    @property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return str((self.data_dir / "media").resolve())

    @property
    def resolved_public_url(self) -> str:
        """Where users reach this service, without a trailing slash (links in emails)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def work_dir(self) -> Path:
        """Scratch space for chunk renders; safe to wipe when no worker runs."""
        return self.data_dir / "work"


def variable_names() -> dict[str, str]:
    """Each field's environment variable: ``REELAY_`` + its name, or its alias."""
    return {
        name: field.validation_alias
        if isinstance(field.validation_alias, str)
        else ENV_PREFIX + name.upper()
        for name, field in Settings.model_fields.items()
    }


class _Environ(EnvSettingsSource):
    """The ``REELAY_*`` variables of one mapping, matched by their exact (upper-case) name."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {
            key.lower(): value
            for key, value in self._environ.items()
            if key.startswith(ENV_PREFIX) and key == key.upper() and value != ""
        }


def _checked(values: Mapping[str, Any]) -> Settings:
    """``Settings(**values)``, with a refusal turned into a SettingsError naming the variable."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        names = variable_names()
        problems = []
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else ""
            name = names.get(key, key.upper())  # a field's name, or else its alias
            raw = values.get(key, error["input"])  # the whole variable, not one list item
            problems.append(f"{name}: {error['msg']}, got {raw!r}")
        raise SettingsError("; ".join(problems)) from None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``environ`` (default: the process environment); unset or empty
    variables keep their defaults. Raises SettingsError naming the variable it refuses."""
    return _checked(_Environ(os.environ if environ is None else environ)())
