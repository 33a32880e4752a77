"""Batches: the exports of one POST /exports seen together, and their completion event."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.api.context import Services, current_user, owned
from server.api.routing import ApiRoute, Operation
from server.api.schemas import batch_json
from server.models import Batch, Export, ExportStatus


async def complete_batch_if_done(svc: Services, batch_id: str) -> None:
    """Emit ``batch.completed`` once when the API itself ended the batch's last export.

    The same once-only flag (``completed_notified``) guards the workers' emitter, so the
    event is never doubled whichever side ends the batch; its data matches theirs.
    """
    exports = await Export.filter(batch_id=batch_id).order_by("created_at", "id")
    if not exports or any(not ExportStatus(e.status).is_terminal for e in exports):
        return
    if not await Batch.filter(id=batch_id, completed_notified=False).update(
        completed_notified=True
    ):
        return
    counts = {status.value: 0 for status in ExportStatus if status.is_terminal}
    for export in exports:
        counts[ExportStatus(export.status).value] += 1
    await svc.events.append(
        exports[0].project_id,
        "batch.completed",
        batch_id=batch_id,
        data={"export_ids": [e.id for e in exports], "counts": counts},
    )


async def get_batch(request: Request) -> Response:
    batch = await owned(Batch, request.path_params["batch_id"], current_user(request))
    exports = await Export.filter(batch_id=batch.id).order_by("created_at", "id")
    return JSONResponse(batch_json(batch, exports))


routes = [
    ApiRoute(
        "/batches/{batch_id}",
        get_batch,
        "GET",
        Operation(
            "A batch of exports and its overall progress",
            200,
            "Batch",
            errors=(404,),
            tags=("exports",),
        ),
    ),
]
