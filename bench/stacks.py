"""What the service benchmarks set up alike: an embedded Redis, a project with a moment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx


def embedded_redis(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private Redis for the stacks of one benchmark run, and its URL (database 0)."""
    from server.commands.embedded_redis import start_embedded_redis

    embedded = start_embedded_redis(tmp / "redis-data")
    return embedded.process, embedded.url


def project_with_moment(
    client: httpx.Client, source: Path, moment: tuple[float, float]
) -> tuple[str, str]:
    """Upload ``source`` and mark ``moment`` on it: (project id, moment id)."""
    with source.open("rb") as handle:
        project = client.post("/api/projects", files={"file": ("s.mp4", handle, "video/mp4")})
    project.raise_for_status()
    project_id = project.json()["id"]
    marked = client.post(
        f"/api/projects/{project_id}/moments", json={"start_s": moment[0], "end_s": moment[1]}
    )
    marked.raise_for_status()
    return project_id, marked.json()["id"]
