"""Settings: each REELAY_* variable, its default, how it is parsed and refused, and README's
table of them, which must list exactly the variables the Settings class reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from server.settings import (
    MAX_PRESIGN_EXPIRES_S,
    Settings,
    SettingsError,
    load_settings,
    variable_names,
)

README = Path(__file__).resolve().parents[2] / "README.md"

#: The defaults as they were before settings became a pydantic class; none may change.
DEFAULTS: dict[str, Any] = {
    "data_dir": Path("data"),
    "database_url": "",
    "redis_url": None,
    "storage_url": "",
    "s3_endpoint_url": None,
    "s3_region": "us-east-1",
    "jwt_secret": "reelay-dev-secret-change-me-in-production",
    "jwt_issuer": None,
    "jwt_audience": None,
    "jwks_url": None,
    "max_upload_mb": 2048,
    "max_source_s": 14400.0,
    "max_moment_s": 180.0,
    "max_exports_per_request": 20,
    "max_active_exports_per_user": 20,
    "max_source_width": 7680,
    "max_source_height": 7680,
    "max_source_pixels": 7680 * 4320,
    "min_source_side": 16,
    "max_json_bytes": 1024 * 1024,
    "max_captions": 500,
    "max_caption_chars": 500,
    "chunk_s": 6.0,
    "render_preset": "veryfast",
    "render_crf": 23,
    "focus_max_pan": 0.25,
    "event_log_maxlen": 10_000,
    "event_log_max_age_s": 7 * 24 * 3600.0,
    "progress_min_interval_s": 0.25,
    "stall_after_s": 90.0,
    "broker_heartbeat_timeout_s": 15.0,
    "sweep_interval_s": 15.0,
    "max_stall_resumes": 5,
    "worker_redis_retry_s": 30.0,
    "presign_expires_s": 300,
    "live_preview": True,
    "media_url_ttl_s": 600,
    "media_url_secret": None,
    "allowed_origins": (),
    "ws_auth_timeout_s": 10.0,
    "ws_ping_interval_s": 20.0,
    "ws_max_subscriptions": 100,
    "ws_max_sockets_per_user": 20,
    "ws_max_message_bytes": 16_384,
    "ws_send_queue": 1_024,
    "sse_keepalive_s": 15.0,
    "webhooks_allow_private": False,
    "webhook_timeout_s": 10.0,
    "webhook_retry_schedule_s": (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0),
    "webhook_disable_after_s": 5 * 24 * 3600.0,
    "webhook_max_in_flight_per_endpoint": 4,
    "webhook_max_in_flight_per_user": 16,
    "notifier_threads": 64,
    "smtp_url": None,
    "smtp_from": "reelay <reelay@localhost>",
    "public_url": "",
    "host": "127.0.0.1",
    "port": 8000,
    "dev_workers": 2,
    "worker_threads": 1,
    "log_level": "info",
    "log_format": "json",
}


def readme_variables() -> list[str]:
    """Every ``REELAY_*`` name in the first cell of a row of README's Configuration table."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `REELAY_")]
    assert rows, "README's Configuration table was not found"
    return [
        name for row in rows for name in re.findall(r"`(REELAY_[A-Z0-9_]+)`", row.split("|")[1])
    ]


def test_readme_documents_every_variable_and_only_those() -> None:
    documented = readme_variables()
    assert len(documented) == len(set(documented)), "a variable is listed twice"
    read = set(variable_names().values())
    assert set(documented) - read == set(), "README lists variables Settings does not read"
    assert read - set(documented) == set(), "Settings reads variables README does not list"


def test_every_field_is_described() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description"


def test_defaults_are_unchanged() -> None:
    assert Settings().model_dump() == DEFAULTS
    assert load_settings({}) == Settings()


def test_empty_variables_keep_the_defaults() -> None:
    assert load_settings({name: "" for name in variable_names().values()}) == Settings()


def test_every_variable_is_read_by_its_name() -> None:
    """Each variable set to a value unlike its default arrives in its own field."""
    given = {"data_dir": "/srv/reelay", "allowed_origins": "https://a.example, https://b.example"}
    given |= {"webhook_retry_schedule_s": "1,2.5", "webhooks_allow_private": "true"}
    given |= {"log_format": "text", "presign_expires_s": "60", "render_crf": "30"}
    given |= {"port": "9000", "max_upload_mb": "1", "live_preview": "false"}
    expected: dict[str, Any] = {
        "data_dir": Path("/srv/reelay"),
        "allowed_origins": ("https://a.example", "https://b.example"),
        "webhook_retry_schedule_s": (1.0, 2.5),
        "webhooks_allow_private": True,
        "log_format": "text",
        "presign_expires_s": 60,
        "live_preview": False,
        "render_crf": 30,
        "port": 9000,
        "max_upload_mb": 1,
    }
    for name, default in DEFAULTS.items():
        if name in given:
            continue
        if isinstance(default, str) or default is None:
            given[name] = expected[name] = f"value-of-{name}"
        elif isinstance(default, float | int):
            given[name], expected[name] = str(default + 1), default + 1
    names = variable_names()
    settings = load_settings({names[name]: value for name, value in given.items()})
    assert settings.model_dump() == expected
    assert names["max_active_exports_per_user"] == "REELAY_MAX_ACTIVE_EXPORTS"


def test_settings_built_in_code_never_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only load_settings reads REELAY_*: a test's Settings(...) is what the test wrote."""
    monkeypatch.setenv("REELAY_PORT", "1234")
    monkeypatch.setenv("REELAY_REDIS_URL", "redis://127.0.0.1:1/0")
    assert Settings().port == 8000 and Settings(host="::1").redis_url is None
    loaded = load_settings()
    assert loaded.port == 1234 and loaded.redis_url == "redis://127.0.0.1:1/0"


def test_only_exact_upper_case_names_are_read() -> None:
    assert load_settings({"reelay_port": "1", "Reelay_Port": "2", "PORT": "3"}).port == 8000


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("REELAY_PORT", "eighty"),
        ("REELAY_PORT", "70000"),
        ("REELAY_MAX_ACTIVE_EXPORTS", "many"),
        ("REELAY_MAX_ACTIVE_EXPORTS", "-1"),
        ("REELAY_CHUNK_S", "0"),
        ("REELAY_CHUNK_S", "nan"),
        ("REELAY_MAX_UPLOAD_MB", "0"),
        ("REELAY_WORKER_REDIS_RETRY_S", "-0.5"),
        ("REELAY_NOTIFIER_THREADS", "0"),
        ("REELAY_WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT", "0"),
        ("REELAY_PRESIGN_EXPIRES_S", "0"),
        ("REELAY_PRESIGN_EXPIRES_S", str(MAX_PRESIGN_EXPIRES_S + 1)),
        ("REELAY_WEBHOOKS_ALLOW_PRIVATE", "maybe"),
        ("REELAY_LOG_FORMAT", "xml"),
        ("REELAY_WEBHOOK_RETRY_SCHEDULE_S", "5,,6"),
        ("REELAY_WEBHOOK_RETRY_SCHEDULE_S", "[5, 6]"),
        ("REELAY_RENDER_CRF", "52"),
    ],
)
def test_a_bad_variable_is_refused_by_name(variable: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}: .*{re.escape(repr(raw))}"):
        load_settings({variable: raw})


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("on", True), ("0", False)])
def test_booleans_read_like_before(raw: str, expected: bool) -> None:
    assert load_settings({"REELAY_WEBHOOKS_ALLOW_PRIVATE": raw}).webhooks_allow_private is expected


def test_lists_skip_what_is_blank() -> None:
    spaced = load_settings({"REELAY_ALLOWED_ORIGINS": " https://a.example ,, "})
    assert spaced.allowed_origins == ("https://a.example",)
    blank = load_settings({"REELAY_WEBHOOK_RETRY_SCHEDULE_S": "  ", "REELAY_REDIS_URL": ""})
    assert blank.webhook_retry_schedule_s == DEFAULTS["webhook_retry_schedule_s"]
    assert blank.redis_url is None and Settings(smtp_url="").smtp_url is None


def test_with_applies_and_checks_changes() -> None:
    base = load_settings({"REELAY_MAX_ACTIVE_EXPORTS": "3"})
    changed = base.with_(port=9000, redis_url="redis://127.0.0.1:6379/0")
    assert (changed.port, changed.redis_url, changed.max_active_exports_per_user) == (
        9000,
        "redis://127.0.0.1:6379/0",
        3,
    )
    assert base.port == 8000  # settings are values: the original is untouched
    with pytest.raises(SettingsError, match="REELAY_PORT"):
        base.with_(port=-1)
    with pytest.raises(ValueError, match="frozen"):
        base.port = 1  # type: ignore[misc]
