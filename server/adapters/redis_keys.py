"""Every Redis key and pub/sub channel reelay uses, named in one place.

Modules build their keys here and nowhere else (tests/docs/test_redis_keys.py greps the
code for stray ``reelay:`` literals), so a reader sees the whole keyspace at once and two
features cannot pick the same name. The keys, by owner::

    reelay:events:{P}                       channel: project P's events as appended
    reelay:events:{{P}}:seq / :log          P's seq counter and event log (one slot)
    reelay:event-once:{EVT}                 an event id appended once (append_once)
    reelay:metrics                          cluster-wide counters for /metrics
    reelay:cancel:{E}                       export E's cancel flag
    reelay:frames:{E}                       E's frames done, per chunk (hash)
    reelay:progress:{E}                     E's last published progress (hash)
    reelay:throttle:{E}                     E's in-chunk progress throttle
    reelay:lease:{E}:{attempt}:{chunk}      a chunk being rendered
    reelay:finalize:{E}:{attempt}           who queues E's finalizer
    reelay:preview:{E}:{attempt}            the playable chunks last announced for E
    reelay:fan-out:{E}:{attempt}            who sends E's chunks after its first one
    reelay:stall:{E}                        the sweeper's count of E's stalls
    reelay:lock:sweeper                     one sweeper per interval
    reelay:webhook-slots:endpoint|user:{ID} webhook POSTs in flight

Dramatiq's own keys share the namespace (``reelay:{queue}``, ``reelay:{queue}.DQ``, …) and
stay Dramatiq's; only those reelay reads (queue depths) are named here.
"""

from __future__ import annotations

from dramatiq.common import dq_name

#: The prefix of every key, and the Dramatiq broker's namespace.
NAMESPACE = "reelay"


def _key(*parts: str | int) -> str:
    return ":".join((NAMESPACE, *(str(part) for part in parts)))


# -- the event log (server.domain.events) --------------------------------------------


def event_channel(project_id: str) -> str:
    """The pub/sub channel carrying ``project_id``'s events as they are appended."""
    return _key("events", project_id)


def event_seq(project_id: str) -> str:
    """The project's seq counter; the ``{…}`` hash tag keeps it in its log's cluster slot."""
    return _key("events", f"{{{project_id}}}", "seq")


def event_log(project_id: str) -> str:
    """The project's event log (a stream whose entry ids are ``{seq}-0``)."""
    return _key("events", f"{{{project_id}}}", "log")


def event_once(event_id: str) -> str:
    """Remembers that ``event_id`` was appended, so ``append_once`` skips a repeat."""
    return _key("event-once", event_id)


#: The hash of cluster-wide counters that ``/metrics`` reports (server.ops.metrics).
METRICS = _key("metrics")


# -- exports in flight (server.domain, workers) ----------------------------------------


def cancel_flag(export_id: str) -> str:
    """Set while a cancel of ``export_id`` is pending; render threads poll it."""
    return _key("cancel", export_id)


def chunk_frames(export_id: str) -> str:
    """Hash: chunk index → output frames rendered so far in that chunk."""
    return _key("frames", export_id)


def progress_state(export_id: str) -> str:
    """Hash: the progress and chunks_done last published for ``export_id``."""
    return _key("progress", export_id)


def progress_throttle(export_id: str) -> str:
    """Exists while in-chunk progress of ``export_id`` must not be published again."""
    return _key("throttle", export_id)


def chunk_lease(export_id: str, attempt: int, index: int) -> str:
    """Held by the worker rendering one chunk; lapses when that worker dies."""
    return _key("lease", export_id, attempt, index)


def finalize_claim(export_id: str, attempt: int) -> str:
    """Set by the one piece finisher that queues the attempt's finalizer."""
    return _key("finalize", export_id, attempt)


def fan_out_claim(export_id: str, attempt: int) -> str:
    """Set by the one step that sends the rest of the chunks once the first is done."""
    return _key("fan-out", export_id, attempt)


def preview_announced(export_id: str, attempt: int) -> str:
    """The most chunks ``export.preview`` has announced for one attempt (only rises)."""
    return _key("preview", export_id, attempt)


def stall_count(export_id: str) -> str:
    """Hash: how often the sweeper found ``export_id`` stalled at which progress."""
    return _key("stall", export_id)


#: Held by the worker that sweeps for stalled exports this interval.
SWEEPER_LOCK = _key("lock", "sweeper")


# -- webhook deliveries (server.adapters.delivery) -------------------------------------


def webhook_endpoint_slots(endpoint_id: str) -> str:
    """Sorted set of the leases on POSTs in flight to one endpoint."""
    return _key("webhook-slots", "endpoint", endpoint_id)


def webhook_user_slots(user_id: str) -> str:
    """Sorted set of the leases on POSTs in flight to one user's endpoints."""
    return _key("webhook-slots", "user", user_id)


# -- Dramatiq's keys that reelay reads ---------------------------------------------------


def broker_queue(queue: str) -> str:
    """The list of messages waiting on Dramatiq queue ``queue``."""
    return _key(queue)


def broker_delayed_queue(queue: str) -> str:
    """The list of delayed messages of Dramatiq queue ``queue``."""
    return _key(dq_name(queue))
