"""Webhook and email settings are read from REELAY_* variables; the actors are declared."""

from __future__ import annotations

import pytest

from server.queue import ACTOR_QUEUES
from server.settings import Settings, SettingsError, load_settings
from server.webhooks.delivery import retry_delay_s
from tests.conftest import SettingsFactory
from workers.broker import setup_broker


def test_defaults_are_the_contracts_schedule() -> None:
    settings = load_settings({})
    assert settings.webhook_retry_schedule_s == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert settings.webhook_timeout_s == 10.0
    assert settings.webhook_disable_after_s == 5 * 24 * 3600
    assert settings.webhooks_allow_private is False and settings.smtp_url is None
    assert settings.resolved_public_url == "http://127.0.0.1:8000"


def test_variables_override_them() -> None:
    settings = load_settings(
        {
            "REELAY_WEBHOOK_RETRY_SCHEDULE_S": "0.5, 2,10",
            "REELAY_WEBHOOK_TIMEOUT_S": "3",
            "REELAY_WEBHOOKS_ALLOW_PRIVATE": "1",
            "REELAY_SMTP_URL": "smtp://u:p@mail.example.com:587",
            "REELAY_SMTP_FROM": "clips@example.com",
            "REELAY_PUBLIC_URL": "https://clips.example.com/",
        }
    )
    assert settings.webhook_retry_schedule_s == (0.5, 2.0, 10.0)
    assert settings.webhook_timeout_s == 3.0 and settings.webhooks_allow_private
    assert settings.smtp_url == "smtp://u:p@mail.example.com:587"
    assert settings.smtp_from == "clips@example.com"
    assert settings.resolved_public_url == "https://clips.example.com"


@pytest.mark.parametrize("raw", ["5,soon", "5,-1"])
def test_a_bad_schedule_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match="REELAY_WEBHOOK_RETRY_SCHEDULE_S"):
        load_settings({"REELAY_WEBHOOK_RETRY_SCHEDULE_S": raw})


def test_the_schedule_gives_seven_retries_then_stops() -> None:
    schedule = Settings().webhook_retry_schedule_s
    delays = [retry_delay_s(schedule, n) for n in range(1, 9)]
    assert delays == [5, 300, 1800, 7200, 18000, 36000, 36000, None]


def test_the_worker_broker_declares_the_notification_actors(settings: SettingsFactory) -> None:
    broker = setup_broker(settings())
    try:
        for name in ("dispatch_event", "deliver_webhook", "send_export_email"):
            actor = broker.get_actor(name)
            assert actor.queue_name == ACTOR_QUEUES[name] == "webhooks"
    finally:
        broker.close()
