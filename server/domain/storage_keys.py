"""Where every file of a project and its exports lives, in storage and in scratch space.

The one statement of the storage layout; the upload route, the render actors, the end
of an export and the deletion of a project all build their keys here::

    projects/{project_id}/source{.ext}        the uploaded video
    exports/{export_id}/chunks/0000.mp4 …     rendered chunks (gone once the export ends,
    exports/{export_id}/chunks/audio.m4a      kept after a failure for its retry)
    exports/{export_id}/video.mp4             the finished clip
    exports/{export_id}/preview/0000.ts …     live preview segments (see below)
    exports/{export_id}/poster.jpg            the poster, from the first chunk

Preview segments go with a cancel, a project's deletion and, for a completed export,
one media URL lifetime after the end (the finished MP4 replaces them); a failed export
keeps them, like its chunks, for its retry. The poster stays with the export.

A worker's scratch copy of an export's pieces is ``{work_dir}/exports/{export_id}/``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: A source's extension is kept as a hint for demuxers only when it looks like one.
_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,8}$")


def project_prefix(project_id: str) -> str:
    """Every stored file of a project's own (its source)."""
    return f"projects/{project_id}/"


def source_key(project_id: str, filename: str | None) -> str:
    """Where a project's uploaded source lives; keeps a sane extension of ``filename``."""
    ext = os.path.splitext(filename or "")[1].lower()
    return f"{project_prefix(project_id)}source{ext if _EXTENSION.match(ext) else ''}"


def export_prefix(export_id: str) -> str:
    """Every stored file of one export."""
    return f"exports/{export_id}/"


def chunk_prefix(export_id: str) -> str:
    """The pieces an export is joined from: removed when it completes or is cancelled."""
    return f"{export_prefix(export_id)}chunks/"


def chunk_key(export_id: str, index: int) -> str:
    return f"{chunk_prefix(export_id)}{index:04d}.mp4"


def audio_key(export_id: str) -> str:
    return f"{chunk_prefix(export_id)}audio.m4a"


def video_key(export_id: str) -> str:
    """The finished clip of an export (whatever its attempt)."""
    return f"{export_prefix(export_id)}video.mp4"


def preview_prefix(export_id: str) -> str:
    """The live preview's segments (the playlist is built on request, never stored)."""
    return f"{export_prefix(export_id)}preview/"


def segment_key(export_id: str, index: int) -> str:
    """The MPEG-TS preview segment of chunk ``index``."""
    return f"{preview_prefix(export_id)}{index:04d}.ts"


def poster_key(export_id: str) -> str:
    return f"{export_prefix(export_id)}poster.jpg"


def video_url(export_id: str) -> str:
    """The API path that serves ``video_key(export_id)`` to its owner."""
    return f"/api/exports/{export_id}/video"


def scratch_dir(work_dir: Path, export_id: str) -> Path:
    """A worker's local scratch space for one export (not created here)."""
    return work_dir / "exports" / export_id
