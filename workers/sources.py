"""Getting a project's source video onto this machine's disk for PyAV to read."""

from __future__ import annotations

from pathlib import Path

from server.domain.models import Project
from workers.runtime import WorkerRuntime


async def local_source(rt: WorkerRuntime, project: Project) -> Path:
    """The source's local path: the stored file itself, or a cached download (S3)."""
    path = rt.storage.local_path(project.source_key)
    if path is not None:
        return path
    cached = rt.settings.work_dir / "sources" / project.id / "source"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        await rt.storage.get_file(project.source_key, cached)
    return cached
