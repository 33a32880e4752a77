"""Webhook and email settings are read from REELAY_* variables; the actors are declared."""

from __future__ import annotations

import pytest

from server.adapters.queue import ACTOR_QUEUES, NOTIFICATION_QUEUES, RENDER_QUEUES
from server.domain.webhook_delivery import retry_delay_s
from server.settings import Settings, SettingsError, load_settings
from tests.conftest import SettingsFactory
from workers.broker import setup_broker, setup_notifier_broker


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


def test_render_workers_and_notifiers_declare_only_their_own_actors(
    settings: SettingsFactory,
) -> None:
    """A render process cannot take notification work, nor a notifier rendering work."""
    notifier = setup_notifier_broker(settings())
    render = setup_broker(settings())
    try:
        expected = {"dispatch_event": "webhooks", "deliver_webhook": "webhooks"}
        expected["send_export_email"] = "email"
        for name, queue in expected.items():
            assert notifier.get_actor(name).queue_name == ACTOR_QUEUES[name] == queue
            assert queue in NOTIFICATION_QUEUES and queue not in RENDER_QUEUES
        assert set(notifier.get_declared_queues()) == set(NOTIFICATION_QUEUES)
        assert set(render.get_declared_queues()) == set(RENDER_QUEUES)
    finally:
        notifier.close()
        render.close()


def test_the_caps_are_settings() -> None:
    defaults = load_settings({})
    assert defaults.webhook_max_in_flight_per_endpoint == 4
    assert defaults.webhook_max_in_flight_per_user == 16
    custom = load_settings(
        {
            "REELAY_WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT": "2",
            "REELAY_WEBHOOK_MAX_IN_FLIGHT_PER_USER": "3",
            "REELAY_NOTIFIER_THREADS": "8",
        }
    )
    assert (
        custom.webhook_max_in_flight_per_endpoint,
        custom.webhook_max_in_flight_per_user,
        custom.notifier_threads,
    ) == (2, 3, 8)
    with pytest.raises(SettingsError, match="REELAY_WEBHOOK_MAX_IN_FLIGHT_PER_USER"):
        load_settings({"REELAY_WEBHOOK_MAX_IN_FLIGHT_PER_USER": "0"})


def test_reelay_worker_refuses_the_notification_queues() -> None:
    from server.cli import main

    with pytest.raises(SystemExit) as refused:
        main(["worker", "--queues", "webhooks"])
    assert refused.value.code == 2  # argparse: not one of the render queues
