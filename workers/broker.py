"""The workers' Dramatiq brokers: the shared Redis broker plus each process kind's actors.

``reelay worker`` renders (``setup``) and ``reelay notifier`` notifies
(``setup_notifier``); each declares only its own actors, so neither kind can take the
other's messages even if pointed at the wrong queue.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from server.adapters.queue import make_broker
from server.ops.logging_redaction import install as install_log_redaction
from server.ops.logs import configure_logging
from server.settings import Settings, load_settings
from workers import email_actor, notification_actors
from workers.runtime import RuntimeMiddleware


def _base_broker(settings: Settings) -> RedisBroker:
    if not settings.redis_url:
        raise RuntimeError("REELAY_REDIS_URL is not set; workers need the broker's Redis")
    broker = make_broker(
        settings.redis_url, heartbeat_timeout_s=settings.broker_heartbeat_timeout_s
    )
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(RuntimeMiddleware(settings, broker))
    return broker


def setup_broker(settings: Settings) -> RedisBroker:
    """A render broker: the export actors, the runtime and the stalled-export sweeper."""
    # Imported here so notifier processes never load the render engine (PyAV, numpy).
    from workers import align_actors
    from workers.export_actors import declare_actors
    from workers.watchdog import SweeperMiddleware

    broker = _base_broker(settings)
    broker.add_middleware(SweeperMiddleware())
    declare_actors(broker)
    align_actors.declare_actors(broker)
    return broker


def setup_notifier_broker(settings: Settings) -> RedisBroker:
    """A notification broker: the webhook and email actors and the runtime, no rendering."""
    broker = _base_broker(settings)
    notification_actors.declare_actors(broker)
    email_actor.declare_actors(broker)
    return broker


def _configure(settings: Settings) -> None:
    configure_logging(settings.log_format, settings.log_level)
    install_log_redaction()


def setup() -> None:
    """Entry point for ``dramatiq workers.broker:setup`` (what ``reelay worker`` runs)."""
    settings = load_settings()
    _configure(settings)
    dramatiq.set_broker(setup_broker(settings))


def setup_notifier() -> None:
    """Entry point for ``dramatiq workers.broker:setup_notifier`` (``reelay notifier``)."""
    settings = load_settings()
    _configure(settings)
    dramatiq.set_broker(setup_notifier_broker(settings))
