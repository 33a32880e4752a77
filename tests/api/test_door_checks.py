"""What could only fail in the worker is refused at the door: a 422 with a code, nothing
written, nothing queued (moments under one frame; outputs past the encoder or our bounds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.domain.models import Export, ExportStatus, Moment
from tests.api.conftest import Api, Media
from tests.api.helpers import assert_error, exports, moment, project
from tests.media import make_video
from workers.render.spec import ENCODER_MAX_SIDE


@pytest.fixture(scope="module")
def tall_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16×300 display pixels: an "original" output is 720×13500 or 1080×20250."""
    root = tmp_path_factory.mktemp("door")
    return make_video(root / "tall.mp4", duration_s=1.0, width=16, height=300, audio_channels=0)


async def test_a_moment_shorter_than_one_frame_is_refused_naming_the_frame(
    api: Api, media: Media
) -> None:
    source = await project(api.alice, media.video)  # 30 fps
    response = await api.alice.post(
        f"/api/projects/{source['id']}/moments", json={"start_s": 1.0, "end_s": 1.01}
    )
    message = assert_error(response, 422, "moment_too_short")
    assert message.startswith("end_s:") and "0.0333 s" in message
    assert await Moment.filter(project_id=source["id"]).count() == 0
    one_frame = await moment(api.alice, source["id"], start_s=1.0, end_s=1.0 + 1 / 30)
    assert one_frame["end_s"] > one_frame["start_s"]


async def test_an_original_output_over_our_bounds_is_refused_before_anything_is_queued(
    api: Api, tall_video: Path
) -> None:
    source = await project(api.alice, tall_video)
    mark = await moment(api.alice, source["id"], start_s=0.0, end_s=0.5)
    response = await api.alice.post(
        f"/api/projects/{source['id']}/exports",
        json={"moment_ids": [mark["id"]], "aspect_ratio": "original", "resolution": "720p"},
    )
    message = assert_error(response, 422, "output_too_large")
    assert "720×13500" in message and "7680" in message  # the size and the limit
    assert await Export.filter(project_id=source["id"]).count() == 0
    assert await api.queued_messages() == []
    await exports(api.alice, source["id"], [mark["id"]], aspect_ratio="9:16")  # still exportable


@pytest.mark.settings(max_source_height=100_000, max_source_pixels=10**9)
async def test_the_encoders_own_limit_holds_when_settings_are_looser(
    api: Api, tall_video: Path
) -> None:
    source = await project(api.alice, tall_video)
    mark = await moment(api.alice, source["id"], start_s=0.0, end_s=0.5)
    url = f"/api/projects/{source['id']}/exports"
    body = {"moment_ids": [mark["id"]], "aspect_ratio": "original", "resolution": "1080p"}
    message = assert_error(await api.alice.post(url, json=body), 422, "output_too_large")
    assert "1080×20250" in message and str(ENCODER_MAX_SIDE) in message
    accepted = await api.alice.post(url, json={**body, "resolution": "720p"})  # 720×13500
    assert accepted.status_code == 202, accepted.text


async def test_retry_of_an_export_that_can_no_longer_render_is_refused(
    api: Api, tall_video: Path
) -> None:
    source = await project(api.alice, tall_video)
    mark = await moment(api.alice, source["id"], start_s=0.0, end_s=0.5)
    export_id = (await exports(api.alice, source["id"], [mark["id"]]))["exports"][0]["id"]
    # An export accepted before the door check existed, failed in the worker since.
    await Export.filter(id=export_id).update(
        aspect_ratio="original", resolution="1080p", status=ExportStatus.FAILED,
        error_code="render_failed", error_message="encoding video failed",
    )  # fmt: skip
    queued = len(await api.queued_messages())
    response = await api.alice.post(f"/api/exports/{export_id}/retry")
    assert_error(response, 422, "output_too_large")
    row = await Export.get(id=export_id)
    assert (row.status, row.attempt) == (ExportStatus.FAILED, 1)
    assert len(await api.queued_messages()) == queued
