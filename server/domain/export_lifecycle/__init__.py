"""The export state machine: every change of an export's status is one function here.

transition        from                           to              event
queue             a new row (or retry's)         queued          export.queued
start             queued                         running         export.started
record_progress   running                        running         export.progress
announce_preview  queued, running, cancelling    (same)          export.preview
complete          running, cancelling            completed       export.completed
fail              queued, running, cancelling    failed          export.failed
request_cancel    queued and not started yet     cancelled       export.cancelled
                  otherwise queued, running      cancelling      export.cancelling
cancel            queued, running, cancelling    cancelled       export.cancelled
retry             failed, cancelled              queued, +1      queue's export.queued
delete_project    any                            rows deleted    none: the log goes too

Each transition is a conditional update (``update_if``): when two racers try, one update
lands and only its caller emits the event — exactly one per transition. Terminal events
carry a stable id per attempt (``announce_end``), so an end redone after a crash is
announced once, and end the batch when they end its last export. Routes and actors are
thin callers; nothing else writes an export's status.

Progress is the one transition decided in Redis: many workers report many times a second,
so ``record_progress`` checks, throttles and appends in one Lua step and writes the row
at chunk boundaries only (``progress``).
"""

from .cancelling import (
    cancel,
    cancel_check,
    clear_flag,
    is_cancel_requested,
    raise_flag,
    request_cancel,
)
from .deletion import delete_project
from .effects import Effects, update_if
from .ending import announce_end, end_event
from .preview import announce_preview, playable_s, remove_preview
from .progress import (
    ANALYSIS_INDEX,
    RENDERED_CAP,
    KeepAlive,
    Published,
    forget_progress,
    record_progress,
    restore_chunk_frames,
)
from .transitions import (
    complete,
    ensure_retryable,
    fail,
    queue,
    resume_stalled,
    retry,
    start,
)

__all__ = [
    "ANALYSIS_INDEX",
    "RENDERED_CAP",
    "Effects",
    "KeepAlive",
    "Published",
    "announce_end",
    "announce_preview",
    "cancel",
    "cancel_check",
    "clear_flag",
    "complete",
    "delete_project",
    "end_event",
    "ensure_retryable",
    "fail",
    "forget_progress",
    "is_cancel_requested",
    "playable_s",
    "queue",
    "raise_flag",
    "record_progress",
    "remove_preview",
    "request_cancel",
    "restore_chunk_frames",
    "resume_stalled",
    "retry",
    "start",
    "update_if",
]
