"""Deleting a project ends its exports for good: workers told to stop, rows and files gone.

No event is emitted: the project's event log is deleted with it, and nobody may watch a
project that no longer exists.
"""

from __future__ import annotations

from server.domain.models import Export, ExportStatus, Project
from server.domain.storage_keys import export_prefix, project_prefix

from .cancelling import raise_flag
from .effects import Effects


async def delete_project(fx: Effects, project: Project) -> None:
    """Stop the project's active exports, delete its rows (cascading) and every file."""
    exports = await Export.filter(project_id=project.id)
    for export in exports:
        if ExportStatus(export.status).is_active:
            await raise_flag(fx.redis, export.id)
    await project.delete()
    await fx.storage.delete(project.source_key)
    for export in exports:  # its clip, chunks, preview and poster
        await fx.storage.delete_prefix(export_prefix(export.id))
    await fx.storage.delete_prefix(project_prefix(project.id))
    await fx.events.delete(project.id)
