"""End to end: upload → moments → exports rendered by real worker processes → files."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import av
import pytest

from tests.e2e.flows import (
    TERMINAL,
    add_moment,
    assert_gap_free,
    ended,
    start_export,
    upload,
)
from tests.e2e.stack import Stack, wait_for_events

pytestmark = pytest.mark.timeout(600)


def test_batch_of_two_moments_and_a_second_aspect_complete_with_playable_files(
    stack: Stack, source_video: Path, tmp_path: Path
) -> None:
    client = stack.client("alice")
    project = upload(client, source_video)
    captions = [{"start_s": 1.2, "end_s": 2.5, "text": "Grüße — hello"}]
    first = add_moment(client, project["id"], 0.5, 3.5, captions=captions, focus_x=0.3)
    second = add_moment(client, project["id"], 2.0, 5.0)
    batch = start_export(client, project["id"], [first, second], "9:16")
    square = start_export(client, project["id"], [first], "1:1")
    assert batch["status"] == "processing" and len(batch["exports"]) == 2
    expected = {e["id"]: (720, 1280) for e in batch["exports"]}
    expected[square["exports"][0]["id"]] = (720, 720)

    events = wait_for_events(client, project["id"], ended(set(expected), TERMINAL))
    assert_gap_free(events)
    for export_id, (width, height) in expected.items():
        mine = [e for e in events if e.get("export_id") == export_id]
        types = [e["type"] for e in mine]
        assert types[0] == "export.queued" and types.count("export.completed") == 1, types
        assert "export.started" in types and "export.progress" in types
        progress = [e["data"]["progress"] for e in mine if e["type"] == "export.progress"]
        assert progress == sorted(progress), progress
        chunk_counts = [e["data"]["chunks_done"] for e in mine if e["type"] == "export.progress"]
        export = client.get(f"/api/exports/{export_id}").json()
        assert export["chunks_total"] >= 3  # 3 s in ~1 s chunks
        assert chunk_counts[-1] == export["chunks_total"] and chunk_counts == sorted(chunk_counts)
        assert export["status"] == "completed" and export["progress"] == 1.0
        assert (export["width"], export["height"]) == (width, height)
        video = client.get(export["video_url"])
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        path = tmp_path / f"{export_id}.mp4"
        path.write_bytes(video.content)
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.width, stream.codec_context.height) == (width, height)
            assert container.streams.audio, "the source has audio, so must the clip"
            frames = sum(1 for _ in container.decode(video=0))
        assert frames == 90  # 3 s at 30 fps, frame-exact
    batch_done = [e for e in events if e["type"] == "batch.completed"]
    assert [e["batch_id"] for e in batch_done].count(batch["batch_id"]) == 1


def test_video_is_served_with_ranges(stack: Stack, source_video: Path) -> None:
    client = stack.client("ranges")
    project = upload(client, source_video)
    moment = add_moment(client, project["id"], 0.0, 2.0)
    export_id = start_export(client, project["id"], [moment], "16:9")["exports"][0]["id"]
    wait_for_events(client, project["id"], ended({export_id}, {"export.completed"}))
    url = f"/api/exports/{export_id}/video"
    full = client.get(url)
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(full.content)}"
    assert part.content == full.content[100:200]
    stranger = stack.client("mallory")
    assert stranger.get(url).status_code == 404
    assert stranger.get(f"/api/projects/{project['id']}/events").status_code == 404


def test_cancel_mid_export_stops_and_removes_partial_files(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.media import make_video

    long_source = make_video(tmp_path_factory.mktemp("long") / "long.mp4", duration_s=20.0)
    client = stack.client("canceller")
    project = upload(client, long_source)
    moment = add_moment(client, project["id"], 0.0, 20.0)
    response = client.post(
        f"/api/projects/{project['id']}/exports",
        json={"moment_ids": [moment], "aspect_ratio": "9:16", "resolution": "1080p"},
    )
    export_id = response.json()["exports"][0]["id"]
    wait_for_events(
        client, project["id"], lambda evs: any(e["type"] == "export.progress" for e in evs)
    )
    cancel = client.post(f"/api/exports/{export_id}/cancel")
    assert cancel.status_code == 202 and cancel.json()["status"] in {"cancelling", "cancelled"}
    events = wait_for_events(client, project["id"], ended({export_id}, TERMINAL))
    types = [e["type"] for e in events if e.get("export_id") == export_id]
    assert types[-1] == "export.cancelled" and "export.completed" not in types
    export = client.get(f"/api/exports/{export_id}").json()
    assert export["status"] == "cancelled" and export["video_url"] is None
    leftovers = list((stack.data_dir / "media" / "exports" / export_id).rglob("*"))
    assert [p for p in leftovers if p.is_file()] == []
    assert not (stack.data_dir / "work" / "exports" / export_id).exists()
    assert client.post(f"/api/exports/{export_id}/cancel").status_code == 409


def test_failed_render_reports_its_code_and_retry_completes(
    stack: Stack, source_video: Path
) -> None:
    client = stack.client("retrier")
    project = upload(client, source_video)
    moment = add_moment(client, project["id"], 1.0, 3.0)
    stored = [
        p for p in (stack.data_dir / "media").rglob("*") if project["id"] in str(p) and p.is_file()
    ]
    assert len(stored) == 1, stored
    original = stored[0].read_bytes()
    stored[0].write_bytes(b"this is no longer a video")
    export_id = start_export(client, project["id"], [moment], "4:5")["exports"][0]["id"]
    events = wait_for_events(client, project["id"], ended({export_id}, TERMINAL))
    failed = [e for e in events if e["type"] == "export.failed"]
    assert failed and failed[0]["data"]["code"] == "not_a_video"
    export = client.get(f"/api/exports/{export_id}").json()
    assert export["status"] == "failed" and export["error"]["code"] == "not_a_video"

    stored[0].write_bytes(original)
    retry = client.post(f"/api/exports/{export_id}/retry")
    assert retry.status_code == 202, retry.text
    wait_for_events(client, project["id"], ended({export_id}, {"export.completed"}))
    export = client.get(f"/api/exports/{export_id}").json()
    assert export["status"] == "completed" and (export["width"], export["height"]) == (720, 900)


def test_worker_killed_mid_export_resumes_from_finished_chunks(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.e2e.stack import render_worker_pids
    from tests.media import make_video

    source = make_video(tmp_path_factory.mktemp("crash") / "crash.mp4", duration_s=16.0)
    client = stack.client("crasher")
    project = upload(client, source)
    moment = add_moment(client, project["id"], 0.0, 16.0)
    response = client.post(
        f"/api/projects/{project['id']}/exports",
        json={"moment_ids": [moment], "aspect_ratio": "9:16", "resolution": "1080p"},
    )
    export_id = response.json()["exports"][0]["id"]
    before = wait_for_events(
        client,
        project["id"],
        lambda evs: any(
            e["type"] == "export.progress" and e["data"]["chunks_done"] >= 4 for e in evs
        ),
    )
    done_before_kill = max(
        e["data"]["chunks_done"] for e in before if e["type"] == "export.progress"
    )
    victims = render_worker_pids(stack)
    assert victims, "no worker processes found under reelay dev"
    os.kill(victims[0], signal.SIGKILL)

    events = wait_for_events(client, project["id"], ended({export_id}, TERMINAL), timeout_s=180)
    mine = [e for e in events if e.get("export_id") == export_id]
    assert mine[-1]["type"] == "export.completed", [e["type"] for e in mine]
    progress = [e["data"]["progress"] for e in mine if e["type"] == "export.progress"]
    assert progress == sorted(progress)
    export = client.get(f"/api/exports/{export_id}").json()
    renders = stack.log().count(f"export {export_id}: chunk ")
    # Chunks finished before the kill are reused: at most the in-flight ones render twice.
    assert renders < export["chunks_total"] + done_before_kill, (renders, export["chunks_total"])
    assert "restarting" in stack.log()
    video = client.get(export["video_url"])
    path = tmp_path_factory.mktemp("crash-out") / "out.mp4"
    path.write_bytes(video.content)
    with av.open(str(path)) as container:
        frames = sum(1 for packet in container.demux(video=0) if packet.size)
    assert frames == 480  # 16 s at 30 fps, nothing lost or doubled at the resumed joins
