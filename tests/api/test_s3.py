"""With S3 storage: uploads are probed from a local copy made while streaming, rejected
uploads leave no object behind, and videos are a 302 to a presigned URL."""

from __future__ import annotations

from pathlib import Path

import aioboto3
import httpx

from server.domain.models import Export, ExportStatus, Project
from tests.api.conftest import Api, Media
from tests.api.helpers import assert_error, exports, moment, project, upload


async def object_keys(api: Api) -> list[str]:
    bucket = api.settings.storage_url.removeprefix("s3://").split("/")[0]
    async with aioboto3.Session().client(
        "s3", endpoint_url=api.settings.s3_endpoint_url, region_name="us-east-1"
    ) as s3:
        listed = await s3.list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listed.get("Contents", [])]


async def test_upload_to_s3_and_redirect_to_the_video(
    s3_api: Api, media: Media, tmp_path: Path
) -> None:
    source = await project(s3_api.alice, media.video)
    assert (source["width"], source["height"]) == (320, 240)
    assert await object_keys(s3_api) == [f"media/projects/{source['id']}/source.mp4"]
    mom = await moment(s3_api.alice, source["id"])
    export = (await exports(s3_api.alice, source["id"], [mom["id"]]))["exports"][0]
    file = tmp_path / "out.mp4"
    file.write_bytes(b"mp4 bytes")
    key = f"exports/{export['id']}/video.mp4"
    await s3_api.app.state.services.storage.put_file(key, file)
    await Export.filter(id=export["id"]).update(status=ExportStatus.COMPLETED, video_key=key)
    response = await s3_api.alice.get(f"/api/exports/{export['id']}/video")
    assert response.status_code == 302
    async with httpx.AsyncClient() as plain:
        assert (await plain.get(response.headers["location"])).content == b"mp4 bytes"
    assert (await s3_api.alice.delete(f"/api/projects/{source['id']}")).status_code == 204
    assert await object_keys(s3_api) == []


async def test_rejected_upload_leaves_no_object(s3_api: Api, media: Media) -> None:
    assert_error(await upload(s3_api.alice, media.garbage), 415, "not_a_video")
    assert await object_keys(s3_api) == []
    assert await Project.all().count() == 0
