"""Signed media URLs: what ``/api/exports/{id}/media`` hands out, and what ``/media/…``
serves to a player that sends no token — and refuses when the signature is not right.

The export's preview state is set up directly (a stored plan, segments in storage, the
row's ``preview_chunks``), as the workers leave it; tests/e2e/test_preview_flow.py makes it
with real workers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis.asyncio

from server.api.media_links import poster_path, preview_path, url_signer
from server.domain.models import Export, ExportStatus
from server.domain.storage_keys import poster_key, segment_key, video_key
from tests.api.conftest import Api, Media, running_api
from tests.api.helpers import assert_error, exports, moment, project
from tests.conftest import SettingsFactory
from workers import render
from workers.render.spec import RenderSpec

SEGMENT_BYTES = b"G" + bytes(187)  # one MPEG-TS packet's worth: content is not judged here


async def _export_with_plan(api: Api, media: Media, *, end_s: float = 2.5) -> dict[str, Any]:
    """An export whose plan (several 0.5 s chunks) is stored, as plan_export leaves it."""
    source = await project(api.alice, media.video)
    mom = await moment(api.alice, source["id"], start_s=0.0, end_s=end_s)
    export = (await exports(api.alice, source["id"], [mom["id"]]))["exports"][0]
    spec = RenderSpec(start_s=0.0, end_s=end_s, aspect_ratio="9:16", resolution="720p", chunk_s=0.5)
    plan = render.plan_render(render.probe(str(media.video)), spec)
    assert len(plan.chunks) >= 4
    await Export.filter(id=export["id"]).update(
        status=ExportStatus.RUNNING,
        plan={"attempt": 1, "spec": spec.to_json(), "plan": plan.to_json()},
        chunks_total=len(plan.chunks),
    )
    return {**export, "chunks": len(plan.chunks)}


async def _store_preview(api: Api, export_id: str, chunks: int, tmp_path: Path) -> None:
    """Segments 0..chunks-1 and the poster in storage, the prefix on the row."""
    storage = api.app.state.services.storage
    for index in range(chunks):
        file = tmp_path / f"{index}.ts"
        file.write_bytes(SEGMENT_BYTES + bytes([index]))
        await storage.put_file(segment_key(export_id, index), file)
    poster = tmp_path / "poster.jpg"
    poster.write_bytes(b"\xff\xd8\xff poster")
    await storage.put_file(poster_key(export_id), poster)
    await Export.filter(id=export_id).update(
        preview_chunks=chunks, poster_key=poster_key(export_id)
    )


async def _complete(api: Api, export_id: str, tmp_path: Path) -> bytes:
    payload = bytes(range(256)) * 4
    file = tmp_path / "video.mp4"
    file.write_bytes(payload)
    await api.app.state.services.storage.put_file(video_key(export_id), file)
    await Export.filter(id=export_id).update(
        status=ExportStatus.COMPLETED, video_key=video_key(export_id), progress=1.0
    )
    return payload


def _segment_uris(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


async def test_nothing_to_watch_before_the_first_chunk(api: Api, media: Media) -> None:
    export = await _export_with_plan(api, media)
    before = time.time()
    body = (await api.alice.get(f"/api/exports/{export['id']}/media")).json()
    assert (body["preview_url"], body["poster_url"], body["video_url"]) == (None, None, None)
    expires_at = body["expires_at"].replace("Z", "+00:00")
    from datetime import datetime

    lifetime = datetime.fromisoformat(expires_at).timestamp() - before
    assert 590 <= lifetime <= 601
    shown = (await api.alice.get(f"/api/exports/{export['id']}")).json()
    assert (shown["preview_url"], shown["poster_url"]) == (None, None)


async def test_a_running_export_plays_its_prefix_without_a_token(
    api: Api, media: Media, tmp_path: Path
) -> None:
    export = await _export_with_plan(api, media)
    await _store_preview(api, export["id"], 2, tmp_path)
    body = (await api.alice.get(f"/api/exports/{export['id']}/media")).json()
    assert body["video_url"] is None
    assert body["preview_url"].startswith(f"/media/exports/{export['id']}/preview.m3u8?")
    listed = await api.anon.get(body["preview_url"])
    assert listed.status_code == 200, listed.text
    assert listed.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert listed.headers["cache-control"] == "no-cache"
    text = listed.text
    assert text.startswith("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-PLAYLIST-TYPE:EVENT\n")
    assert "#EXT-X-TARGETDURATION:1\n" in text
    assert "#EXT-X-ENDLIST" not in text
    assert text.count("#EXTINF:") == 2
    uris = _segment_uris(text)
    assert [urlsplit(u).path for u in uris] == [
        f"/media/exports/{export['id']}/preview/0000.ts",
        f"/media/exports/{export['id']}/preview/0001.ts",
    ]
    for index, uri in enumerate(uris):
        segment = await api.anon.get(uri)
        assert segment.status_code == 200, segment.text
        assert segment.content == SEGMENT_BYTES + bytes([index])
        assert segment.headers["content-type"] == "video/mp2t"
        assert "immutable" in segment.headers["cache-control"]
    poster = await api.anon.get(body["poster_url"])
    assert poster.status_code == 200 and poster.content.startswith(b"\xff\xd8\xff")
    assert poster.headers["content-type"] == "image/jpeg"
    shown = (await api.alice.get(f"/api/exports/{export['id']}")).json()
    assert shown["preview_url"].startswith(preview_path(export["id"]) + "?")
    assert shown["poster_url"].startswith(poster_path(export["id"]) + "?")
    listed_exports = (await api.alice.get(f"/api/projects/{export['project_id']}/exports")).json()
    assert listed_exports["exports"][0]["preview_url"] is not None


async def test_a_completed_export_ends_its_playlist_and_streams_its_mp4(
    api: Api, media: Media, tmp_path: Path
) -> None:
    export = await _export_with_plan(api, media)
    await _store_preview(api, export["id"], export["chunks"], tmp_path)
    payload = await _complete(api, export["id"], tmp_path)
    body = (await api.alice.get(f"/api/exports/{export['id']}/media")).json()
    text = (await api.anon.get(body["preview_url"])).text
    assert text.endswith("#EXT-X-ENDLIST\n")
    assert len(_segment_uris(text)) == export["chunks"]
    whole = await api.anon.get(body["video_url"])
    assert whole.status_code == 200 and whole.content == payload
    assert whole.headers["accept-ranges"] == "bytes"
    part = await api.anon.get(body["video_url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == payload[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(payload)}"


async def test_out_of_order_chunks_are_never_listed_early(
    api: Api, media: Media, tmp_path: Path
) -> None:
    """The row's prefix is what the playlist lists, even when later segments are stored."""
    export = await _export_with_plan(api, media)
    await _store_preview(api, export["id"], 3, tmp_path)
    await Export.filter(id=export["id"]).update(preview_chunks=1)
    body = (await api.alice.get(f"/api/exports/{export['id']}/media")).json()
    uris = _segment_uris((await api.anon.get(body["preview_url"])).text)
    assert [urlsplit(u).path.rsplit("/", 1)[1] for u in uris] == ["0000.ts"]


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return f"{parts.path}?" + "&".join(f"{k}={v}" for k, v in query.items())


async def test_tampered_expired_moved_and_missing_signatures_are_403(
    api: Api, media: Media, tmp_path: Path
) -> None:
    export = await _export_with_plan(api, media)
    other = await _export_with_plan(api, media)
    for each in (export, other):
        await _store_preview(api, each["id"], 2, tmp_path)
    url = (await api.alice.get(f"/api/exports/{export['id']}/media")).json()["preview_url"]
    assert (await api.anon.get(url)).status_code == 200
    signature = parse_qs(urlsplit(url).query)["signature"][0]
    flipped = ("A" if signature[5] != "A" else "B").join((signature[:5], signature[6:]))
    assert_error(await api.anon.get(_with_query(url, signature=flipped)), 403, "signature_invalid")
    moved = url.replace(export["id"], other["id"])
    assert_error(await api.anon.get(moved), 403, "signature_invalid")
    later = str(int(parse_qs(urlsplit(url).query)["expires"][0]) + 60)
    assert_error(await api.anon.get(_with_query(url, expires=later)), 403, "signature_invalid")
    assert_error(await api.anon.get(urlsplit(url).path), 403, "signature_invalid")
    assert_error(await api.anon.get(_with_query(url, signature="x")), 403, "signature_invalid")
    expired = url_signer(api.settings).sign(preview_path(export["id"]), int(time.time()) - 1)
    assert_error(await api.anon.get(expired), 403, "signature_expired")
    segment = _segment_uris((await api.anon.get(url)).text)[0]
    poster = url.replace("preview.m3u8", "poster.jpg")
    assert_error(await api.anon.get(poster), 403, "signature_invalid")
    assert (await api.anon.get(segment)).status_code == 200


async def test_another_users_media_is_not_found(api: Api, media: Media, tmp_path: Path) -> None:
    export = await _export_with_plan(api, media)
    await _store_preview(api, export["id"], 1, tmp_path)
    assert_error(await api.bob.get(f"/api/exports/{export['id']}/media"), 404, "not_found")
    assert_error(await api.anon.get(f"/api/exports/{export['id']}/media"), 401, "unauthorized")


@pytest.mark.parametrize("status", [ExportStatus.CANCELLED, ExportStatus.FAILED])
async def test_an_ended_unfinished_export_has_no_playlist(
    api: Api, media: Media, tmp_path: Path, status: ExportStatus
) -> None:
    export = await _export_with_plan(api, media)
    await _store_preview(api, export["id"], 2, tmp_path)
    url = (await api.alice.get(f"/api/exports/{export['id']}/media")).json()["preview_url"]
    await Export.filter(id=export["id"]).update(status=status)
    assert_error(await api.anon.get(url), 404, "media_not_found")
    body = (await api.alice.get(f"/api/exports/{export['id']}/media")).json()
    assert body["preview_url"] is None


async def test_the_signing_key_is_its_own_setting_when_set(
    settings: SettingsFactory,
    db: str,
    redis_client: redis.asyncio.Redis,
    media: Media,
    tmp_path: Path,
) -> None:
    """A URL signed under one key does not verify under another (a rotated secret)."""
    first = settings(media_url_secret="first-key")
    async with running_api(first, redis_client, tmp_path / "none") as api:
        export = await _export_with_plan(api, media)
        await _store_preview(api, export["id"], 1, tmp_path)
        url = (await api.alice.get(f"/api/exports/{export['id']}/media")).json()["preview_url"]
        assert (await api.anon.get(url)).status_code == 200
    async with running_api(
        first.with_(media_url_secret="second-key"), redis_client, tmp_path
    ) as api:
        assert_error(await api.anon.get(url), 403, "signature_invalid")


async def test_on_s3_segments_poster_and_video_are_presigned(
    s3_api: Api, media: Media, tmp_path: Path
) -> None:
    export = await _export_with_plan(s3_api, media)
    await _store_preview(s3_api, export["id"], export["chunks"], tmp_path)
    payload = await _complete(s3_api, export["id"], tmp_path)
    body = (await s3_api.alice.get(f"/api/exports/{export['id']}/media")).json()
    assert body["preview_url"].startswith("/media/")  # the playlist is always ours
    listed = (await s3_api.anon.get(body["preview_url"])).text
    uris = _segment_uris(listed)
    assert len(uris) == export["chunks"]
    async with httpx.AsyncClient() as plain:  # no credentials, straight from the bucket
        for index, uri in enumerate(uris):
            assert uri.startswith(s3_api.settings.s3_endpoint_url or "")
            fetched = await plain.get(uri)
            assert fetched.status_code == 200
            assert fetched.content == SEGMENT_BYTES + bytes([index])
        assert (await plain.get(body["poster_url"])).content.startswith(b"\xff\xd8\xff")
        assert (await plain.get(body["video_url"])).content == payload
    assert (await s3_api.alice.delete(f"/api/projects/{export['project_id']}")).status_code == 204
