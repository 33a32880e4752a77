"""Opening media with PyAV while turning its exceptions into ours at the boundary."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import av
import av.container

from .errors import NotAVideo, RenderError


def open_input(path: str) -> av.container.InputContainer:
    """Open ``path`` for reading; an empty, missing or unparseable file is ``NotAVideo``."""
    try:
        if os.path.getsize(path) == 0:
            raise NotAVideo(f"{os.path.basename(path)} is empty")
        return av.open(path, "r")
    except FileNotFoundError as exc:
        raise NotAVideo(f"{os.path.basename(path)} does not exist") from exc
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise NotAVideo(f"{os.path.basename(path)} is not a readable media file") from exc


@contextmanager
def ffmpeg_errors(what: str) -> Iterator[None]:
    """Re-raise any FFmpeg or file-system failure inside the block as ``render_failed``."""
    try:
        yield
    except RenderError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise RenderError(f"{what} failed: {exc}") from exc
