"""End to end: auto reframe and focus tracks through the API and real worker processes.

The plan step analyses faces (progress phase ``analysing``), stores the track on the export,
and the chunks — rendered by two worker processes — all follow it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.e2e.flows import add_moment, start_export, upload
from tests.e2e.stack import Stack, wait_for_events
from tests.subject_media import (
    HEIGHT,
    WIDTH,
    SubjectVideo,
    face_box,
    find_crop_x,
    make_subject_video,
    piecewise,
)
from workers.render.focus import FocusPath, track_from_json

pytestmark = pytest.mark.timeout(900)

CROP_W = HEIGHT * 9 / 16
#: A pan at 110 px/s, a pause, a jump to the other side at 4 s.
WALK = piecewise([(0, 150), (0.5, 150), (3, 425), (4, 425), (4, 1250), (6, 1250)])


@pytest.fixture(scope="session")
def walk_video(tmp_path_factory: pytest.TempPathFactory) -> SubjectVideo:
    return make_subject_video(tmp_path_factory.mktemp("walk") / "walk.mp4", WALK, duration_s=6.0)


@pytest.fixture(scope="session")
def empty_video(tmp_path_factory: pytest.TempPathFactory) -> SubjectVideo:
    path = tmp_path_factory.mktemp("empty") / "empty.mp4"
    return make_subject_video(path, None, duration_s=3.0)


def _finished(stack_client: httpx.Client, project_id: str, export_id: str) -> list[Any]:
    def done(events: list[dict[str, Any]]) -> bool:
        return any(
            e["type"] in {"export.completed", "export.failed", "export.cancelled"}
            and e["export_id"] == export_id
            for e in events
        )

    return wait_for_events(stack_client, project_id, done, timeout_s=300)


def _crop_lefts(
    client: httpx.Client, export: dict[str, Any], video: SubjectVideo, tmp: Path
) -> list[tuple[float, float]]:
    path = tmp / f"{export['id']}.mp4"
    path.write_bytes(client.get(export["video_url"]).content)
    with av.open(str(path)) as container:
        return [
            (i / video.fps, find_crop_x(frame.to_ndarray(format="rgb24"), video, i / video.fps))
            for i, frame in enumerate(container.decode(video=0))
        ]


def test_auto_export_follows_the_face_and_stores_its_track(
    stack: Stack, walk_video: SubjectVideo, tmp_path: Path
) -> None:
    client = stack.client("auto")
    project = upload(client, walk_video.path)
    moment = add_moment(client, project["id"], 0.0, 6.0, focus_mode="auto", focus_x=0.9)
    export_id = start_export(client, project["id"], [moment], "9:16")["exports"][0]["id"]
    events = _finished(client, project["id"], export_id)
    mine = [e for e in events if e.get("export_id") == export_id]
    assert mine[-1]["type"] == "export.completed", mine[-1]
    phases = [e["data"]["phase"] for e in mine if e["type"] == "export.progress"]
    assert phases[0] == "analysing" and phases[-1] == "rendering", phases
    assert phases == sorted(phases), "analysis comes before every chunk"
    progress = [e["data"]["progress"] for e in mine if e["type"] == "export.progress"]
    assert progress == sorted(progress)
    analysing = [e["data"] for e in mine if e["data"].get("phase") == "analysing"]
    assert all(0 < d["progress"] < 0.25 for d in analysing), analysing  # 0.3 / 1.3 at most

    export = client.get(f"/api/exports/{export_id}").json()
    assert export["focus_fallback"] is False and len(export["focus_track"]) >= 2
    lefts = _crop_lefts(client, export, walk_video, tmp_path)
    inside = sum(
        left - 4 <= face_box(WALK, t)[0] and face_box(WALK, t)[2] <= left + CROP_W + 4
        for t, left in lefts
    )
    assert inside >= 0.95 * len(lefts), f"{inside}/{len(lefts)}"
    # every chunk (two worker processes, 1 s chunks) followed the one stored track
    path = FocusPath(track_from_json(export["focus_track"]))
    for t, left in lefts:
        assert abs(left + CROP_W / 2 - path.at(t)[0] * WIDTH) <= 6, t


def test_no_face_completes_with_focus_x_and_says_it_fell_back(
    stack: Stack, empty_video: SubjectVideo, tmp_path: Path
) -> None:
    client = stack.client("noface")
    project = upload(client, empty_video.path)
    moment = add_moment(client, project["id"], 0.0, 3.0, focus_mode="auto", focus_x=0.3)
    export_id = start_export(client, project["id"], [moment], "9:16")["exports"][0]["id"]
    _finished(client, project["id"], export_id)
    export = client.get(f"/api/exports/{export_id}").json()
    assert export["status"] == "completed"
    assert export["focus_fallback"] is True
    assert export["focus_track"] == [{"t": 0.0, "x": 0.3}]
    lefts = {left for _, left in _crop_lefts(client, export, empty_video, tmp_path)}
    expected = 0.3 * WIDTH - CROP_W / 2
    assert all(abs(left - expected) <= 4 for left in lefts), lefts


def test_manual_track_is_rendered_by_every_chunk(
    stack: Stack, walk_video: SubjectVideo, tmp_path: Path
) -> None:
    client = stack.client("manual")
    project = upload(client, walk_video.path)
    track = [
        {"t": 0.5, "x": 0.25},
        {"t": 2.5, "x": 0.7},
        {"t": 4.0, "x": 0.7},
        {"t": 5.5, "x": 0.4},
    ]
    moment = add_moment(client, project["id"], 0.0, 6.0, focus_track=track)
    export_id = start_export(client, project["id"], [moment], "9:16")["exports"][0]["id"]
    _finished(client, project["id"], export_id)
    export = client.get(f"/api/exports/{export_id}").json()
    assert export["status"] == "completed" and export["focus_track"] == track
    assert export["chunks_total"] == 6 and export["focus_fallback"] is False
    path = FocusPath(track_from_json(track))
    lefts = _crop_lefts(client, export, walk_video, tmp_path)
    # found back to 4 px, the crop's left edge snapped to an even pixel
    for t, left in lefts:
        assert abs(left + CROP_W / 2 - path.at(t)[0] * WIDTH) <= 6, t
    for point in track:
        t, left = min(lefts, key=lambda item: abs(item[0] - point["t"]))
        assert abs(left + CROP_W / 2 - point["x"] * WIDTH) <= 6
    for second in range(1, 6):  # chunk edges: no jump beyond the path's own motion
        i = second * walk_video.fps
        (t0, a), (t1, b) = lefts[i - 1], lefts[i]
        assert abs((b - a) - (path.at(t1)[0] - path.at(t0)[0]) * WIDTH) <= 6


def test_cancel_stops_the_analysis_within_half_a_second(stack: Stack, tmp_path: Path) -> None:
    long_walk = make_subject_video(
        tmp_path / "long.mp4", lambda t: 200 + 20 * t, duration_s=40.0, fps=10
    )
    client = stack.client("cancel")
    project = upload(client, long_walk.path)
    moment = add_moment(client, project["id"], 0.0, 40.0, focus_mode="auto")
    export_id = start_export(client, project["id"], [moment], "9:16")["exports"][0]["id"]

    def analysing(events: list[dict[str, Any]]) -> bool:
        return any(e["data"].get("phase") == "analysing" for e in events)

    wait_for_events(client, project["id"], analysing, timeout_s=120)
    response = client.post(f"/api/exports/{export_id}/cancel")
    assert response.status_code == 202 and response.json()["status"] == "cancelling"
    events = _finished(client, project["id"], export_id)
    mine = {e["type"]: e for e in events if e.get("export_id") == export_id}
    assert "export.cancelled" in mine, list(mine)

    def ts(event: dict[str, Any]) -> float:
        return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()

    took = ts(mine["export.cancelled"]) - ts(mine["export.cancelling"])
    assert took <= 0.5, f"the analysis went on {took:.2f} s after the cancel"
    assert "export.completed" not in mine


def test_a_retry_renders_the_track_the_first_attempt_made(
    stack: Stack, walk_video: SubjectVideo
) -> None:
    client = stack.client("retry")
    project = upload(client, walk_video.path)
    moment = add_moment(client, project["id"], 0.0, 6.0, focus_mode="auto")
    export_id = start_export(client, project["id"], [moment], "9:16", "1080p")["exports"][0]["id"]

    def rendering(events: list[dict[str, Any]]) -> bool:
        return any(e["data"].get("phase") == "rendering" for e in events)

    wait_for_events(client, project["id"], rendering, timeout_s=120)
    first = client.get(f"/api/exports/{export_id}").json()["focus_track"]
    assert first and len(first) >= 2
    assert client.post(f"/api/exports/{export_id}/cancel").status_code == 202
    _finished(client, project["id"], export_id)
    retried = client.post(f"/api/exports/{export_id}/retry")
    assert retried.status_code == 202, retried.text

    def completed(events: list[dict[str, Any]]) -> bool:
        return any(e["type"] == "export.completed" and e["export_id"] == export_id for e in events)

    events = wait_for_events(client, project["id"], completed, timeout_s=300)
    export = client.get(f"/api/exports/{export_id}").json()
    assert export["status"] == "completed" and export["focus_track"] == first
    second = [e for e in events if e.get("export_id") == export_id and e["type"] == "export.queued"]
    assert [e["data"]["attempt"] for e in second] == [1, 2]
    log = stack.log()
    assert f"export {export_id}: reusing the" in log, "the retry did not analyse again"
