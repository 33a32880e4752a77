"""Atomic output files: write under a temporary name beside the target, rename when complete."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def atomic_path(out_path: str) -> Iterator[str]:
    """Yield a temp path with the same extension; rename it to ``out_path`` only on success,
    delete it on any failure (including cancellation)."""
    directory = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(directory, exist_ok=True)
    stem, ext = os.path.splitext(os.path.basename(out_path))
    temp = os.path.join(directory, f".{stem}.{uuid.uuid4().hex[:8]}.part{ext}")
    try:
        yield temp
        os.replace(temp, out_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)
