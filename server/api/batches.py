"""Batches: the exports of one POST /exports seen together."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.api import shapes
from server.domain.models import Batch, Export
from server.http.access import owned
from server.http.routing import Routes, link, member
from server.http.services import current_user
from server.http.shapes import answer

routes = Routes("exports")


@routes.get(
    "/batches/{batch_id}",
    "A batch of exports and its overall progress",
    200,
    shapes.Batch,
    errors=(404,),
    links=(link("get_export", export_id=member("/exports/0/id")),),
)
async def get_batch(request: Request) -> Response:
    batch = await owned(Batch, request.path_params["batch_id"], current_user(request))
    exports = await Export.filter(batch_id=batch.id).order_by("created_at", "id")
    return answer(shapes.Batch.of(batch, exports))
