"""The wrapper every export actor runs in: load, drop stale work, map outcomes to states.

Actors stay thin (STYLE.md): this one place decides which transition of
``server.domain.export_lifecycle`` a cancel, a bad input, a transient fault and a final
failure lead to, and when a fault is left to Dramatiq to retry.
"""

from __future__ import annotations

import functools
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
from dramatiq.middleware import CurrentMessage

from server.domain import export_lifecycle as lifecycle
from server.domain.models import Export, ExportStatus
from server.domain.storage_keys import scratch_dir
from server.ops.logs import export_id_var
from workers.render import media_error
from workers.render.errors import RenderCancelled, RenderError
from workers.runtime import WorkerRuntime, current_runtime

logger = logging.getLogger("reelay.worker")


def export_work_dir(rt: WorkerRuntime, export_id: str) -> Path:
    """Scratch space of one export on this machine, removed when the export ends."""
    path = scratch_dir(rt.settings.work_dir, export_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove_work_dir(rt: WorkerRuntime, export_id: str) -> None:
    shutil.rmtree(scratch_dir(rt.settings.work_dir, export_id), ignore_errors=True)


def retries_left(rt: WorkerRuntime) -> bool:
    """Whether Dramatiq will run the current message again if it raises now.

    The limit is the actor's own ``max_retries`` (its RetryPolicy, or the message's
    override, as Dramatiq's Retries middleware reads it), so there is no second copy of
    it to drift. Outside a message nothing retries.
    """
    message = CurrentMessage.get_current_message()
    if message is None:
        return False
    actor = rt.enqueuer.broker.get_actor(message.actor_name)
    limit = message.options.get("max_retries", actor.options.get("max_retries"))
    return limit is None or int(message.options.get("retries", 0)) < int(limit)


def export_step(fn: Callable[..., None]) -> Callable[..., None]:
    """Run ``fn(rt, export, *args)`` for the current attempt of an active export only."""

    @functools.wraps(fn)
    def wrapper(export_id: str, attempt: int, *args: Any) -> None:
        token = export_id_var.set(export_id)
        try:
            _step(export_id, attempt, *args)
        finally:
            export_id_var.reset(token)

    def _step(export_id: str, attempt: int, *args: Any) -> None:
        rt = current_runtime()
        export = rt.run(Export.get_or_none(id=export_id))
        if export is None or export.attempt != attempt:
            logger.info(
                "dropping %s for export %s attempt %s: stale", fn.__name__, export_id, attempt
            )
            return
        status = ExportStatus(export.status)
        if status.is_terminal:
            # Redelivered after a crash between the end's database update and its event:
            # announcing again is a no-op if the event made it, and sends it if not.
            rt.run(lifecycle.announce_end(rt, export_id, attempt))
            return
        try:
            cancelled = lifecycle.is_cancel_requested(rt.sync_redis, export_id)
            if status is ExportStatus.CANCELLING or cancelled:
                raise RenderCancelled("the export was cancelled")
            fn(rt, export, *args)
        except RenderCancelled:
            remove_work_dir(rt, export_id)
            rt.run(lifecycle.cancel(rt, export))
        except (RenderError, av.FFmpegError) as raised:
            exc = raised if isinstance(raised, RenderError) else media_error(raised, "rendering")
            if exc.transient and retries_left(rt):
                raise
            detail = raised if exc is not raised else raised.__cause__
            if detail is not None:  # libav's own words: for operators, never for users
                logger.warning("%s of export %s: %s (%r)", fn.__name__, export_id, exc, detail)
            remove_work_dir(rt, export_id)
            rt.run(lifecycle.fail(rt, export, exc.code, exc.message))
        except Exception:
            if retries_left(rt):
                logger.exception(
                    "%s of export %s failed; it will be retried", fn.__name__, export_id
                )
                raise
            logger.exception("%s of export %s failed for good", fn.__name__, export_id)
            remove_work_dir(rt, export_id)
            rt.run(
                lifecycle.fail(
                    rt, export, "internal_error", "the export failed repeatedly; try again later"
                )
            )

    return wrapper
