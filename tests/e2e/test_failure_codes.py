"""A source changed behind the API's back fails its export in the worker with one of our
codes and a sentence of ours — on the export and on its ``export.failed`` event — never
with libav's own words."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.flows import TERMINAL, add_moment, ended, start_export, upload
from tests.e2e.stack import Stack, wait_for_events
from tests.media import make_video

pytestmark = pytest.mark.timeout(300)

#: Pieces of libav's own error text that must never reach a user.
LIBAV_WORDS = ("Error number", "Invalid argument", "avcodec", "[libx264", "Errno", "Generic error")


def _stored_source(stack: Stack, project_id: str) -> Path:
    stored = list((stack.data_dir / "media" / "projects" / project_id).glob("source*"))
    assert len(stored) == 1, stored
    return stored[0]


def _failure_of(stack: Stack, replacement: Path, aspect: str, resolution: str) -> dict[str, str]:
    """Upload a good source, swap its stored bytes for ``replacement``, export, and return
    the ``error`` the export ends with (checked to equal its event's)."""
    client = stack.client("breaker")
    good = make_video(replacement.with_name("good.mp4"), duration_s=2.0)
    project = upload(client, good)
    moment = add_moment(client, project["id"], 0.0, 1.0)
    _stored_source(stack, project["id"]).write_bytes(replacement.read_bytes())
    export_id = start_export(client, project["id"], [moment], aspect, resolution)["exports"][0][
        "id"
    ]
    events = wait_for_events(client, project["id"], ended({export_id}, TERMINAL))
    failed = [e for e in events if e["type"] == "export.failed" and e["export_id"] == export_id]
    assert len(failed) == 1, [e["type"] for e in events]
    export = client.get(f"/api/exports/{export_id}").json()
    assert export["status"] == "failed"
    assert export["error"] == {
        "code": failed[0]["data"]["code"],
        "message": failed[0]["data"]["message"],
    }
    for word in LIBAV_WORDS:
        assert word not in export["error"]["message"], export["error"]
    return dict(export["error"])


def test_a_source_too_tall_for_the_encoder_fails_as_output_too_large(
    stack: Stack, tmp_path: Path
) -> None:
    tall = make_video(tmp_path / "tall.mp4", duration_s=2.0, width=16, height=600)
    error = _failure_of(stack, tall, "original", "1080p")  # 1080×40500 once re-probed
    assert error["code"] == "output_too_large"
    assert "1080×40500" in error["message"]


def test_a_source_whose_audio_cannot_be_decoded_fails_as_unsupported_codec(
    stack: Stack, tmp_path: Path
) -> None:
    real = make_video(tmp_path / "real.mkv", duration_s=2.0)
    bad = tmp_path / "bad-audio.mkv"
    bad.write_bytes(real.read_bytes().replace(b"A_AAC", b"A_ZZZ"))
    error = _failure_of(stack, bad, "9:16", "720p")
    assert error["code"] == "unsupported_codec"
    assert "audio codec" in error["message"]
