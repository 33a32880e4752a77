"""Opening media with PyAV while turning its exceptions into ours at the boundary.

libav's own words ("Invalid argument", "Generic error in an external library: avcodec_open2
…") mean nothing to the people who asked for a clip, so they never become a RenderError's
message: that is a sentence of ours, and the libav error stays on ``__cause__`` for the log.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import av
import av.container
import av.stream

from .cancel import CancelPoller
from .errors import NotAVideo, RenderError

FrameT = TypeVar("FrameT", av.AudioFrame, av.VideoFrame)

#: OS errors that say this machine ran short (disk, memory), not that the input is bad.
_RESOURCE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.ENOMEM, errno.EMFILE, errno.EIO})


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


def decoded_frames(
    container: av.container.InputContainer,
    stream: av.stream.Stream,
    kind: type[FrameT],
    poller: CancelPoller,
) -> Iterator[FrameT]:
    """``stream``'s frames in order, a cancel check before each packet; a packet that fails
    to decode is skipped, not fatal."""
    for packet in container.demux(stream):
        poller.check()
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            continue
        for frame in frames:
            assert isinstance(frame, kind)
            yield frame


def media_error(exc: BaseException, what: str, *, code: str = "render_failed") -> RenderError:
    """Our error for a libav, PyAV or file-system failure met while doing ``what``.

    A machine running out of disk or memory is ``transient`` (worth retrying elsewhere);
    anything libav refused is not, and is reported with ``code`` in plain words.
    """
    if isinstance(exc, OSError) and not isinstance(exc, av.FFmpegError):
        if exc.errno in _RESOURCE_ERRNOS:
            return RenderError(
                f"{what} failed: the worker ran out of disk space or memory; it will be retried",
                code=code,
                transient=True,
            )
        return RenderError(f"{what} failed: a working file could not be read or written", code=code)
    if code == "not_a_video":
        return RenderError(f"{what} failed: the file is damaged or not a video", code=code)
    return RenderError(
        f"{what} failed: the media library could not process this clip; "
        "retry it, or re-encode the source if it fails again",
        code=code,
    )


@contextmanager
def ffmpeg_errors(what: str, *, code: str = "render_failed") -> Iterator[None]:
    """Re-raise any FFmpeg, PyAV or file-system failure inside the block as ``media_error``."""
    try:
        yield
    except RenderError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise media_error(exc, what, code=code) from exc
