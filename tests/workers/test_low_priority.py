"""The audio encode's low priority: the work runs on a thread of its own, nicer than its
caller, and the caller (a worker thread that renders chunks next) keeps its priority."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from workers.low_priority import NICENESS, run_at_low_priority

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")


def _own_nice() -> tuple[int, int]:
    """(thread id, nice value) of the calling thread."""
    tid = threading.get_native_id()
    return tid, os.getpriority(os.PRIO_PROCESS, tid)


def test_the_work_runs_nicer_on_another_thread_and_the_caller_keeps_its_priority() -> None:
    caller_tid, caller_nice = _own_nice()
    work_tid, work_nice = run_at_low_priority(_own_nice)
    assert work_tid != caller_tid
    assert work_nice == min(19, caller_nice + NICENESS)
    assert _own_nice() == (caller_tid, caller_nice)


def test_the_work_s_exception_reaches_the_caller() -> None:
    def fail() -> None:
        raise ValueError("encoder broke")

    with pytest.raises(ValueError, match="encoder broke"):
        run_at_low_priority(fail)
