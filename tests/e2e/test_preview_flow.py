"""End to end: an export is watchable while it renders. A 30 s moment in 6 s chunks on a
``reelay dev`` stack with real workers: before ``export.completed`` the signed playlist
(fetched with no token) lists finished chunks whose segments decode to the export's size;
``export.preview`` events rise in order; afterwards the playlist ends, its segments add up
to the moment, the poster is a real picture and the signed MP4 streams with ranges."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.e2e.flows import TERMINAL, add_moment, ended, start_export, upload
from tests.e2e.stack import Stack, wait_for_events
from tests.media import make_video

pytestmark = [
    pytest.mark.timeout(600),
    # One backend is enough here: the preview's state is the same rows on both.
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]

FPS = 15
MOMENT_S = 30.0


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    # 6 s chunks, as in production; a slow preset keeps the export running long enough
    # to be watched mid-way on a fast machine (a chunk takes seconds, not milliseconds).
    return {"REELAY_CHUNK_S": "6", "REELAY_RENDER_PRESET": "slow"}


@pytest.fixture(scope="module")
def long_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(
        tmp_path_factory.mktemp("preview") / "talk.mp4", duration_s=MOMENT_S + 1, fps=FPS
    )


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's view of a file: its streams and the packets' total duration."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=True,
        text=True,
    )
    return dict(json.loads(out.stdout))


def segments_of(playlist: str) -> list[tuple[float, str]]:
    lines = playlist.splitlines()
    listed: list[tuple[float, str]] = []
    for index, line in enumerate(lines):
        if line.startswith("#EXTINF:"):
            listed.append((float(line.removeprefix("#EXTINF:").rstrip(",")), lines[index + 1]))
    return listed


def fetch_segments(
    plain: httpx.Client, playlist: str, size: tuple[int, int], tmp: Path
) -> list[float]:
    """Download every listed segment with no token; each decodes at ``size``. Durations."""
    durations = []
    for index, (_, uri) in enumerate(segments_of(playlist)):
        response = plain.get(uri)
        assert response.status_code == 200, response.text
        path = tmp / f"segment-{index}.ts"
        path.write_bytes(response.content)
        info = probe(path)
        video = [s for s in info["streams"] if s["codec_type"] == "video"]
        audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
        assert len(video) == 1 and video[0]["codec_name"] == "h264"
        assert (video[0]["width"], video[0]["height"]) == size
        assert len(audio) == 1 and audio[0]["codec_name"] == "aac"
        durations.append(float(info["format"]["duration"]))
    return durations


def test_a_running_export_can_be_watched_and_ends_as_a_streamable_clip(
    stack: Stack, long_source: Path, tmp_path: Path
) -> None:
    client = stack.client("alice")
    project = upload(client, long_source)
    moment = add_moment(client, project["id"], 0.0, MOMENT_S)
    export_id = start_export(client, project["id"], [moment], "9:16")["exports"][0]["id"]
    size = (720, 1280)

    def previewed(events: list[dict[str, Any]]) -> bool:
        return any(e["type"] == "export.preview" for e in events)

    early = wait_for_events(client, project["id"], previewed, timeout_s=300)
    media = client.get(f"/api/exports/{export_id}/media").json()
    assert media["preview_url"] and media["poster_url"] and media["video_url"] is None
    with httpx.Client(base_url=stack.base_url, timeout=30) as plain:  # no Authorization
        playlist = plain.get(media["preview_url"])
        assert playlist.status_code == 200, playlist.text
        assert playlist.headers["cache-control"] == "no-cache"
        assert "#EXT-X-PLAYLIST-TYPE:EVENT" in playlist.text
        assert "#EXT-X-ENDLIST" not in playlist.text
        assert len(segments_of(playlist.text)) >= 1
        fetch_segments(plain, playlist.text, size, tmp_path)
        still = client.get(f"/api/exports/{export_id}").json()
        assert still["status"] == "running", "the export ended before the preview was watched"
        assert not any(e["type"] in TERMINAL for e in early)

        poster = plain.get(media["poster_url"])
        assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
        (tmp_path / "poster.jpg").write_bytes(poster.content)
        with Image.open(tmp_path / "poster.jpg") as image:
            assert image.format == "JPEG" and image.size == size
            assert float(np.asarray(image.convert("L"), dtype=np.float32).std()) > 10.0

        events = wait_for_events(client, project["id"], ended({export_id}, TERMINAL))
        mine = [e for e in events if e.get("export_id") == export_id]
        types = [e["type"] for e in mine]
        assert types[-1] == "export.completed", types
        previews = [e["data"] for e in mine if e["type"] == "export.preview"]
        counts = [p["chunks_ready"] for p in previews]
        assert counts == sorted(set(counts)) and counts[-1] == 5, counts  # 30 s in 6 s chunks
        last_preview = max(i for i, t in enumerate(types) if t == "export.preview")
        assert last_preview < types.index("export.completed")
        assert previews[-1]["playable_s"] == pytest.approx(MOMENT_S, abs=1 / FPS)

        media = client.get(f"/api/exports/{export_id}/media").json()
        final = plain.get(media["preview_url"]).text
        assert final.endswith("#EXT-X-ENDLIST\n")
        listed = segments_of(final)
        assert len(listed) == 5
        assert sum(d for d, _ in listed) == pytest.approx(MOMENT_S, abs=1 / FPS)
        measured = fetch_segments(plain, final, size, tmp_path)
        assert sum(measured) == pytest.approx(MOMENT_S, abs=2 / FPS)

        head = plain.get(media["video_url"], headers={"Range": "bytes=0-1023"})
        assert head.status_code == 206 and len(head.content) == 1024
        assert head.content[4:8] == b"ftyp"
        whole = plain.get(media["video_url"])
        assert whole.status_code == 200
        (tmp_path / "clip.mp4").write_bytes(whole.content)
        clip = probe(tmp_path / "clip.mp4")
        assert float(clip["format"]["duration"]) == pytest.approx(MOMENT_S, abs=2 / FPS)
