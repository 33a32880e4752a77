"""Work that should only take CPU time nobody else wants: it runs on a thread of its own
whose nice value is raised, so the render threads of the same machine go first.

Why: with the live preview on, the first chunk renders with the machine to itself while the
moment's audio is encoded beside it. At equal priority the audio encode (about 2 s of CPU
for a minute of sound) takes a core from the chunk the viewer is waiting for; at a lower
priority it fills the cycles the chunk's encoder leaves idle and still ends about when the
chunk does.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: How much nicer than its caller the work runs (Linux CFS: about a tenth of the weight).
NICENESS = 10


def run_at_low_priority(work: Callable[[], T], *, niceness: int = NICENESS) -> T:
    """``work()``, run on a fresh thread ``niceness`` steps nicer than the calling thread;
    its result is returned and its exception re-raised here.

    A fresh thread, because a raised nice value cannot be lowered again without privilege:
    the caller's own thread (a worker thread that renders next) keeps its priority. Where
    threads cannot have their own nice value (not Linux), ``work`` runs here as is.
    """
    if sys.platform != "linux":
        return work()
    results: list[T] = []
    errors: list[BaseException] = []
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def run() -> None:
        try:
            # On Linux a thread id names one thread, so only this thread becomes nicer.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, base + niceness))
            results.append(work())
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="reelay-low-priority", daemon=True)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]
