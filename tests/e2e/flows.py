"""What the end-to-end tests do over and over, said once: upload, mark, export, wait."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import httpx


def upload(client: httpx.Client, path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        response = client.post(
            "/api/projects",
            files={"file": ("clip.mp4", handle, "video/mp4")},
            data={"name": "clip"},
        )
    assert response.status_code == 201, response.text
    return dict(response.json())


def add_moment(
    client: httpx.Client, project_id: str, start: float, end: float, **extra: Any
) -> str:
    body = {"start_s": start, "end_s": end, "title": f"{start}-{end}", **extra}
    response = client.post(f"/api/projects/{project_id}/moments", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def start_export(
    client: httpx.Client,
    project_id: str,
    moment_ids: list[str],
    aspect: str,
    resolution: str = "720p",
) -> dict[str, Any]:
    response = client.post(
        f"/api/projects/{project_id}/exports",
        json={
            "moment_ids": moment_ids,
            "aspect_ratio": aspect,
            "resolution": resolution,
            "captions": True,
        },
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


def video_frames(client: httpx.Client, export: dict[str, Any], tmp: Path) -> int:
    """Download a completed export and count its video packets (one per frame)."""
    path = tmp / f"{export['id']}.mp4"
    path.write_bytes(client.get(export["video_url"]).content)
    with av.open(str(path)) as container:
        return sum(1 for packet in container.demux(video=0) if packet.size)


def ended(export_ids: set[str], types: set[str]) -> Any:
    def done(events: list[dict[str, Any]]) -> bool:
        ended = {e["export_id"] for e in events if e["type"] in types}
        return export_ids <= ended

    return done


TERMINAL = {"export.completed", "export.failed", "export.cancelled"}


def assert_gap_free(events: list[dict[str, Any]]) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    assert seqs[0] == 1
