"""Every knob of reelay in one place, read once from ``REELAY_*`` environment variables.

Defaults are the embedded stack (SQLite, local storage, an embedded Redis); code receives
a ``Settings`` value and never reads the environment itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Presigned video URLs live at most this long (seconds), whatever is configured.
MAX_PRESIGN_EXPIRES_S = 3600


class SettingsError(ValueError):
    """A ``REELAY_*`` variable holds a value we cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Configuration for web and worker processes; see README for each variable."""

    data_dir: Path = Path("data")
    database_url: str = ""  # empty → SQLite file under data_dir
    redis_url: str | None = None  # None → embedded Redis started by `reelay dev`
    storage_url: str = ""  # empty → local directory data_dir/media; or s3://bucket/prefix
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    jwt_secret: str = "reelay-dev-secret-change-me-in-production"
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwks_url: str | None = None
    max_upload_mb: int = 2048
    max_source_s: float = 4 * 3600.0
    max_moment_s: float = 180.0
    max_exports_per_request: int = 20
    max_active_exports_per_user: int = 20  # queued/running at once; more → 429
    max_source_width: int = 7680  # display pixels; larger sources → 422
    max_source_height: int = 7680
    max_source_pixels: int = 7680 * 4320
    min_source_side: int = 16  # narrower or shorter sources → 422
    max_json_bytes: int = 1024 * 1024  # JSON request bodies; larger → 413
    max_captions: int = 500  # per moment
    max_caption_chars: int = 500  # per caption line
    chunk_s: float = 6.0
    render_preset: str = "veryfast"
    render_crf: int = 23
    event_log_maxlen: int = 10_000
    event_log_max_age_s: float = 7 * 24 * 3600.0
    progress_min_interval_s: float = 0.25
    stall_after_s: float = 90.0
    broker_heartbeat_timeout_s: float = 15.0
    sweep_interval_s: float = 15.0
    max_stall_resumes: int = 5
    worker_redis_retry_s: float = 30.0  # workers wait out a Redis outage this long
    presign_expires_s: int = 300
    allowed_origins: tuple[str, ...] = ()  # empty → WebSocket/CORS: same origin only
    ws_auth_timeout_s: float = 10.0
    ws_ping_interval_s: float = 20.0  # idle sockets get a ping; silent one interval more → closed
    ws_max_subscriptions: int = 100  # projects per socket
    ws_max_sockets_per_user: int = 20  # per server process
    ws_max_message_bytes: int = 16_384  # client frames
    ws_send_queue: int = 1_024  # messages waiting per socket/SSE stream before 4008
    sse_keepalive_s: float = 15.0
    webhooks_allow_private: bool = False
    webhook_timeout_s: float = 10.0  # connect + send + answer, in total
    webhook_retry_schedule_s: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    webhook_disable_after_s: float = 5 * 24 * 3600.0  # failing this long disables an endpoint
    webhook_max_in_flight_per_endpoint: int = 4  # POSTs at once to one endpoint, all notifiers
    webhook_max_in_flight_per_user: int = 16  # POSTs at once to one user's endpoints
    notifier_threads: int = 64  # deliveries/emails in flight per `reelay notifier` process
    smtp_url: str | None = None  # None → notification emails written to data_dir/outbox
    smtp_from: str = "reelay <reelay@localhost>"
    public_url: str = ""  # empty → http://{host}:{port}; the base of links in emails
    host: str = "127.0.0.1"
    port: int = 8000
    dev_workers: int = 2
    worker_threads: int = 1
    log_level: str = "info"
    log_format: str = "json"  # or "text" (what `reelay dev` uses)

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


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def _floats(env: Mapping[str, str], name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    """A comma-separated list of non-negative numbers, e.g. ``5,300,1800``."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        values = tuple(float(part) for part in raw.split(","))
    except ValueError as exc:
        raise SettingsError(f"{name} must be comma-separated numbers, got {raw!r}") from exc
    if any(value < 0 for value in values):
        raise SettingsError(f"{name} must not hold negative numbers, got {raw!r}")
    return values


def _optional(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    return raw if raw else None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    origins = tuple(
        o.strip() for o in env.get("REELAY_ALLOWED_ORIGINS", "").split(",") if o.strip()
    )
    settings = Settings(
        data_dir=Path(env.get("REELAY_DATA_DIR") or defaults.data_dir),
        database_url=env.get("REELAY_DATABASE_URL", ""),
        redis_url=_optional(env, "REELAY_REDIS_URL"),
        storage_url=env.get("REELAY_STORAGE_URL", ""),
        s3_endpoint_url=_optional(env, "REELAY_S3_ENDPOINT_URL"),
        s3_region=env.get("REELAY_S3_REGION") or defaults.s3_region,
        jwt_secret=env.get("REELAY_JWT_SECRET") or defaults.jwt_secret,
        jwt_issuer=_optional(env, "REELAY_JWT_ISSUER"),
        jwt_audience=_optional(env, "REELAY_JWT_AUDIENCE"),
        jwks_url=_optional(env, "REELAY_JWKS_URL"),
        max_upload_mb=_int(env, "REELAY_MAX_UPLOAD_MB", defaults.max_upload_mb),
        max_source_s=_float(env, "REELAY_MAX_SOURCE_S", defaults.max_source_s),
        max_moment_s=_float(env, "REELAY_MAX_MOMENT_S", defaults.max_moment_s),
        max_exports_per_request=_int(
            env, "REELAY_MAX_EXPORTS_PER_REQUEST", defaults.max_exports_per_request
        ),
        max_active_exports_per_user=_int(
            env, "REELAY_MAX_ACTIVE_EXPORTS", defaults.max_active_exports_per_user
        ),
        max_source_width=_int(env, "REELAY_MAX_SOURCE_WIDTH", defaults.max_source_width),
        max_source_height=_int(env, "REELAY_MAX_SOURCE_HEIGHT", defaults.max_source_height),
        max_source_pixels=_int(env, "REELAY_MAX_SOURCE_PIXELS", defaults.max_source_pixels),
        min_source_side=_int(env, "REELAY_MIN_SOURCE_SIDE", defaults.min_source_side),
        max_json_bytes=_int(env, "REELAY_MAX_JSON_BYTES", defaults.max_json_bytes),
        max_captions=_int(env, "REELAY_MAX_CAPTIONS", defaults.max_captions),
        max_caption_chars=_int(env, "REELAY_MAX_CAPTION_CHARS", defaults.max_caption_chars),
        chunk_s=_float(env, "REELAY_CHUNK_S", defaults.chunk_s),
        render_preset=env.get("REELAY_RENDER_PRESET") or defaults.render_preset,
        render_crf=_int(env, "REELAY_RENDER_CRF", defaults.render_crf),
        event_log_maxlen=_int(env, "REELAY_EVENT_LOG_MAXLEN", defaults.event_log_maxlen),
        event_log_max_age_s=_float(env, "REELAY_EVENT_LOG_MAX_AGE_S", defaults.event_log_max_age_s),
        progress_min_interval_s=_float(
            env, "REELAY_PROGRESS_MIN_INTERVAL_S", defaults.progress_min_interval_s
        ),
        presign_expires_s=_int(env, "REELAY_PRESIGN_EXPIRES_S", defaults.presign_expires_s),
        stall_after_s=_float(env, "REELAY_STALL_AFTER_S", defaults.stall_after_s),
        broker_heartbeat_timeout_s=_float(
            env, "REELAY_BROKER_HEARTBEAT_TIMEOUT_S", defaults.broker_heartbeat_timeout_s
        ),
        sweep_interval_s=_float(env, "REELAY_SWEEP_INTERVAL_S", defaults.sweep_interval_s),
        max_stall_resumes=_int(env, "REELAY_MAX_STALL_RESUMES", defaults.max_stall_resumes),
        worker_redis_retry_s=_float(
            env, "REELAY_WORKER_REDIS_RETRY_S", defaults.worker_redis_retry_s
        ),
        allowed_origins=origins,
        ws_auth_timeout_s=_float(env, "REELAY_WS_AUTH_TIMEOUT_S", defaults.ws_auth_timeout_s),
        ws_ping_interval_s=_float(env, "REELAY_WS_PING_INTERVAL_S", defaults.ws_ping_interval_s),
        ws_max_subscriptions=_int(
            env, "REELAY_WS_MAX_SUBSCRIPTIONS", defaults.ws_max_subscriptions
        ),
        ws_max_sockets_per_user=_int(
            env, "REELAY_WS_MAX_SOCKETS_PER_USER", defaults.ws_max_sockets_per_user
        ),
        ws_max_message_bytes=_int(
            env, "REELAY_WS_MAX_MESSAGE_BYTES", defaults.ws_max_message_bytes
        ),
        ws_send_queue=_int(env, "REELAY_WS_SEND_QUEUE", defaults.ws_send_queue),
        sse_keepalive_s=_float(env, "REELAY_SSE_KEEPALIVE_S", defaults.sse_keepalive_s),
        webhooks_allow_private=_bool(env, "REELAY_WEBHOOKS_ALLOW_PRIVATE", False),
        webhook_timeout_s=_float(env, "REELAY_WEBHOOK_TIMEOUT_S", defaults.webhook_timeout_s),
        webhook_retry_schedule_s=_floats(
            env, "REELAY_WEBHOOK_RETRY_SCHEDULE_S", defaults.webhook_retry_schedule_s
        ),
        webhook_disable_after_s=_float(
            env, "REELAY_WEBHOOK_DISABLE_AFTER_S", defaults.webhook_disable_after_s
        ),
        webhook_max_in_flight_per_endpoint=_int(
            env,
            "REELAY_WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT",
            defaults.webhook_max_in_flight_per_endpoint,
        ),
        webhook_max_in_flight_per_user=_int(
            env, "REELAY_WEBHOOK_MAX_IN_FLIGHT_PER_USER", defaults.webhook_max_in_flight_per_user
        ),
        notifier_threads=_int(env, "REELAY_NOTIFIER_THREADS", defaults.notifier_threads),
        smtp_url=_optional(env, "REELAY_SMTP_URL"),
        smtp_from=env.get("REELAY_SMTP_FROM") or defaults.smtp_from,
        public_url=env.get("REELAY_PUBLIC_URL", ""),
        host=env.get("REELAY_HOST") or defaults.host,
        port=_int(env, "REELAY_PORT", defaults.port),
        dev_workers=_int(env, "REELAY_DEV_WORKERS", defaults.dev_workers),
        worker_threads=_int(env, "REELAY_WORKER_THREADS", defaults.worker_threads),
        log_level=env.get("REELAY_LOG_LEVEL") or defaults.log_level,
        log_format=env.get("REELAY_LOG_FORMAT") or defaults.log_format,
    )
    if settings.log_format not in {"json", "text"}:
        raise SettingsError(f"REELAY_LOG_FORMAT must be json or text, got {settings.log_format!r}")
    if settings.chunk_s <= 0:
        raise SettingsError(f"REELAY_CHUNK_S must be positive, got {settings.chunk_s}")
    if settings.max_upload_mb <= 0:
        raise SettingsError(f"REELAY_MAX_UPLOAD_MB must be positive, got {settings.max_upload_mb}")
    if settings.worker_redis_retry_s < 0:
        raise SettingsError(
            f"REELAY_WORKER_REDIS_RETRY_S must not be negative, got {settings.worker_redis_retry_s}"
        )
    for name, value in (
        ("REELAY_WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT", settings.webhook_max_in_flight_per_endpoint),
        ("REELAY_WEBHOOK_MAX_IN_FLIGHT_PER_USER", settings.webhook_max_in_flight_per_user),
        ("REELAY_NOTIFIER_THREADS", settings.notifier_threads),
    ):
        if value < 1:
            raise SettingsError(f"{name} must be at least 1, got {value}")
    if not 1 <= settings.presign_expires_s <= MAX_PRESIGN_EXPIRES_S:
        raise SettingsError(
            f"REELAY_PRESIGN_EXPIRES_S must be 1..{MAX_PRESIGN_EXPIRES_S} (presigned video "
            f"URLs are short-lived), got {settings.presign_expires_s}"
        )
    return settings
