"""Alignment end to end: a real ``reelay dev`` stack with worker processes aligns a moment of
espeak-ng speech, the words land on the moment's captions, ``moment.aligned`` reaches a
WebSocket subscriber, and an export of it renders karaoke captions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from server.adapters.auth import issue_token
from tests.e2e.flows import TERMINAL, add_moment, ended, start_export, upload
from tests.e2e.stack import JWT_SECRET, Stack, wait_for_events
from tests.realtime.conftest import open_ws
from tests.speech import WORDS, needs_espeak, speak, speech_video

pytestmark = [
    pytest.mark.timeout(300),
    needs_espeak,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


@pytest.fixture(scope="module")
def speech_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    speech = speak()
    return speech_video(tmp_path_factory.mktemp("speech") / "talk.mp4", speech), speech


async def test_alignment_words_arrive_over_the_websocket(
    stack: Stack, speech_clip: tuple[Path, Any], tmp_path: Path
) -> None:
    video, speech = speech_clip
    client = stack.client("alice")
    project = await asyncio.to_thread(upload, client, video)
    start_s = speech.starts_s[0] - 0.3
    end_s = speech.ends_s[11] + 0.3
    moment_id = await asyncio.to_thread(add_moment, client, project["id"], start_s, end_s)
    socket = await open_ws(
        stack.base_url.replace("http://", "ws://") + "/ws",
        issue_token(JWT_SECRET, "alice", ttl_s=3600),
    )
    await socket.send({"type": "subscribe", "project_id": project["id"], "since": 0})
    await socket.until("subscribed")
    transcript = " ".join(WORDS[:12])
    response = await asyncio.to_thread(
        client.post, f"/api/moments/{moment_id}/align", json={"text": transcript}
    )
    assert response.status_code == 202, response.text
    while True:
        message = await socket.until("event", timeout_s=120)
        event = message["event"]
        if event["type"] in ("moment.aligned", "moment.align_failed"):
            break
    assert event["type"] == "moment.aligned", event
    assert event["data"]["moment_id"] == moment_id
    assert event["data"]["words"] == 12 and event["data"]["method"] == "forced"
    assert 0.5 < event["data"]["mean_confidence"] <= 1
    moment = (await asyncio.to_thread(client.get, f"/api/moments/{moment_id}")).json()
    words = [w for caption in moment["captions"] for w in caption.get("words", [])]
    assert " ".join(w["text"] for w in words) == transcript
    errors = [abs(w["start_s"] - t) for w, t in zip(words, speech.starts_s, strict=False)]
    assert float(np.median(errors)) <= 0.12
    assert all(len(c["text"]) <= 42 for c in moment["captions"])

    # the timed captions render as karaoke
    styled = await asyncio.to_thread(
        client.patch,
        f"/api/moments/{moment_id}/captions",
        json={"caption_style": {"preset": "karaoke"}},
    )
    assert styled.status_code == 200
    batch = await asyncio.to_thread(start_export, client, project["id"], [moment_id], "9:16")
    export_id = batch["exports"][0]["id"]
    events = await asyncio.to_thread(
        wait_for_events, client, project["id"], ended({export_id}, TERMINAL)
    )
    assert [e for e in events if e.get("export_id") == export_id][-1]["type"] == (
        "export.completed"
    )
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(
        (await asyncio.to_thread(client.get, f"/api/exports/{export_id}/video")).content
    )
    word = words[4]
    at = (word["start_s"] + word["end_s"]) / 2 - start_s
    with av.open(str(clip)) as container:
        frame = next(f for f in container.decode(video=0) if f.time is not None and f.time >= at)
        rgb = frame.to_ndarray(format="rgb24").astype(int)
    lit = (rgb[..., 0] > 190) & (rgb[..., 1] > 190) & (rgb[..., 2] < 90)
    assert lit[int(rgb.shape[0] * 0.6) :].sum() > 150  # the word being said is lit


async def test_a_moment_of_silence_fails_with_no_speech(stack: Stack, tmp_path: Path) -> None:
    quiet = speak(["hello"], lead_s=4.0, tail_s=0.5)
    video = speech_video(tmp_path / "quiet.mp4", quiet)
    client = stack.client("alice")
    project = await asyncio.to_thread(upload, client, video)
    moment_id = await asyncio.to_thread(add_moment, client, project["id"], 0.5, 3.0)
    response = await asyncio.to_thread(
        client.post, f"/api/moments/{moment_id}/align", json={"text": "hello"}
    )
    assert response.status_code == 202
    events = await asyncio.to_thread(
        wait_for_events,
        client,
        project["id"],
        lambda evs: any(e["type"].startswith("moment.align") for e in evs),
    )
    failed = [e for e in events if e["type"].startswith("moment.align")][-1]
    assert failed["type"] == "moment.align_failed"
    assert failed["data"]["code"] == "no_speech" and failed["data"]["moment_id"] == moment_id
