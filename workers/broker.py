"""The workers' Dramatiq broker: the shared Redis broker plus worker-only middleware."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from server.logging_redaction import install as install_log_redaction
from server.logs import configure_logging
from server.queue import make_broker
from server.settings import Settings, load_settings
from workers import email, webhooks
from workers.exports import declare_actors
from workers.runtime import RuntimeMiddleware
from workers.watchdog import SweeperMiddleware


def setup_broker(settings: Settings) -> RedisBroker:
    """A broker with every reelay actor declared and the worker runtime middleware."""
    if not settings.redis_url:
        raise RuntimeError("REELAY_REDIS_URL is not set; workers need the broker's Redis")
    broker = make_broker(
        settings.redis_url, heartbeat_timeout_s=settings.broker_heartbeat_timeout_s
    )
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(RuntimeMiddleware(settings, broker))
    broker.add_middleware(SweeperMiddleware())
    declare_actors(broker)
    webhooks.declare_actors(broker)
    email.declare_actors(broker)
    return broker


def setup() -> None:
    """Entry point for ``dramatiq workers.broker:setup`` (what ``reelay worker`` runs)."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    install_log_redaction()
    dramatiq.set_broker(setup_broker(settings))
