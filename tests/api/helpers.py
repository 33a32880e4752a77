"""Small steps most API tests take: upload a source, mark a moment, ask for exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> str:
    """The response is our error shape with ``status`` (and ``code``); returns the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return str(body["error"]["message"])


async def upload(
    client: httpx.AsyncClient, path: Path, *, name: str | None = None
) -> httpx.Response:
    data = {"name": name} if name is not None else {}
    with path.open("rb") as handle:
        return await client.post(
            "/api/projects", files={"file": (path.name, handle, "video/mp4")}, data=data
        )


async def project(client: httpx.AsyncClient, path: Path) -> dict[str, Any]:
    response = await upload(client, path)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def moment(client: httpx.AsyncClient, project_id: str, **fields: Any) -> dict[str, Any]:
    body = {"start_s": 0.5, "end_s": 2.0, **fields}
    response = await client.post(f"/api/projects/{project_id}/moments", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def exports(
    client: httpx.AsyncClient, project_id: str, moment_ids: list[str], **fields: Any
) -> dict[str, Any]:
    body = {"moment_ids": moment_ids, "aspect_ratio": "9:16", "resolution": "720p", **fields}
    response = await client.post(f"/api/projects/{project_id}/exports", json=body)
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result
