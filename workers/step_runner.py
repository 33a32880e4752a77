"""The wrapper every export actor runs in: load, drop stale work, map outcomes to states.

Actors stay thin (STYLE.md): this one place decides what a cancel, a bad input, a
transient fault and a final failure mean for the export's status and events.
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

from server.domain.cancellation import is_cancel_requested
from server.domain.models import Export, ExportStatus
from server.ops.logs import export_id_var
from workers.lifecycle import announce_end, mark_cancelled, mark_failed
from workers.render import media_error
from workers.render.errors import RenderCancelled, RenderError
from workers.runtime import WorkerRuntime, current_runtime

logger = logging.getLogger("reelay.worker")

#: Retries for unexpected (transient) faults before the export is marked failed.
MAX_RETRIES = 5


def _work_path(rt: WorkerRuntime, export_id: str) -> Path:
    return rt.settings.work_dir / "exports" / export_id


def export_work_dir(rt: WorkerRuntime, export_id: str) -> Path:
    """Scratch space of one export on this machine, removed when the export ends."""
    path = _work_path(rt, export_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove_work_dir(rt: WorkerRuntime, export_id: str) -> None:
    shutil.rmtree(_work_path(rt, export_id), ignore_errors=True)


def cancel_requested(rt: WorkerRuntime, export_id: str) -> bool:
    return is_cancel_requested(rt.sync_redis, export_id)


def _retries_so_far() -> int:
    message = CurrentMessage.get_current_message()
    return int(message.options.get("retries", 0)) if message is not None else MAX_RETRIES


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
            rt.run(announce_end(rt, export_id))
            return
        try:
            if status is ExportStatus.CANCELLING or cancel_requested(rt, export_id):
                raise RenderCancelled("the export was cancelled")
            fn(rt, export, *args)
        except RenderCancelled:
            remove_work_dir(rt, export_id)
            rt.run(mark_cancelled(rt, export))
        except (RenderError, av.FFmpegError) as raised:
            exc = raised if isinstance(raised, RenderError) else media_error(raised, "rendering")
            if exc.transient and _retries_so_far() < MAX_RETRIES:
                raise
            detail = raised if exc is not raised else raised.__cause__
            if detail is not None:  # libav's own words: for operators, never for users
                logger.warning("%s of export %s: %s (%r)", fn.__name__, export_id, exc, detail)
            remove_work_dir(rt, export_id)
            rt.run(mark_failed(rt, export, exc.code, exc.message))
        except Exception:
            if _retries_so_far() < MAX_RETRIES:
                logger.exception(
                    "%s of export %s failed; it will be retried", fn.__name__, export_id
                )
                raise
            logger.exception("%s of export %s failed for good", fn.__name__, export_id)
            remove_work_dir(rt, export_id)
            rt.run(
                mark_failed(
                    rt, export, "internal_error", "the export failed repeatedly; try again later"
                )
            )

    return wrapper
