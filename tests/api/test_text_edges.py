"""Text that is not valid Unicode (or holds a NUL) is refused at every HTTP edge with
400 ``invalid_text`` naming where — bodies, paths, queries, headers, multipart fields and
file names — and nothing is stored; JSON bodies need a JSON Content-Type (415 otherwise).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.domain.models import Export, Moment, Project, WebhookEndpoint
from tests.api.conftest import Api, Media
from tests.api.helpers import assert_error, moment, project


@pytest.fixture
async def source(api: Api, media: Media) -> dict[str, Any]:
    return await project(api.alice, media.video)  # 3 s long


async def post_raw(api: Api, path: str, raw: str, content_type: str = "application/json") -> Any:
    """POST ``raw`` JSON text as is: json.dumps cannot write an unpaired surrogate."""
    return await api.alice.post(path, content=raw.encode(), headers={"Content-Type": content_type})


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ('{"start_s": 0, "end_s": 1, "title": "a\\udc00b"}', "body.title"),
        (
            '{"start_s": 0, "end_s": 1, "captions": '
            '[{"start_s": 0, "end_s": 1, "text": "\\udc00"}]}',
            "body.captions[0].text",
        ),
        ('{"start_s": 0, "end_s": 1, "x\\udc00": 1}', "body (a key)"),
        ('{"start_s": 0, "end_s": 1, "title": "a\\u0000b"}', "title: contains a NUL"),
        (
            '{"start_s": 0, "end_s": 1, "captions": '
            '[{"start_s": 0, "end_s": 1, "text": "\\u0000"}]}',
            "captions[0].text: contains a NUL",
        ),
        ('{"start_s": 0, "end_s": 1, "title": "\\ud800\\ud800"}', "body.title"),
    ],
)
async def test_invalid_text_in_a_moment_is_400_and_stores_nothing(
    api: Api, source: dict[str, Any], raw: str, where: str
) -> None:
    path = f"/api/projects/{source['id']}/moments"
    message = assert_error(await post_raw(api, path, raw), 400, "invalid_text")
    assert message.startswith(where), message
    assert await Moment.all().count() == 0
    listed = await api.alice.get(path)
    assert listed.status_code == 200 and listed.json() == {"moments": []}


async def test_paired_surrogate_escapes_are_one_valid_character(
    api: Api, source: dict[str, Any]
) -> None:
    raw = '{"start_s": 0, "end_s": 1, "title": "\\ud83c\\udfac cut"}'
    response = await post_raw(api, f"/api/projects/{source['id']}/moments", raw)
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "🎬 cut"


async def test_invalid_text_in_exports_and_webhooks_is_400(
    api: Api, source: dict[str, Any]
) -> None:
    mom = await moment(api.alice, source["id"])
    cases = [
        (f"/api/projects/{source['id']}/exports", '{"moment_ids": ["\\udc00"]}'),
        (
            f"/api/projects/{source['id']}/exports",
            '{"moment_ids": ["' + mom["id"] + '"], "notify_email": "a\\u0000@example.com"}',
        ),
        ("/api/webhooks", '{"url": "http://127.0.0.1:9/h", "description": "\\udc00"}'),
        ("/api/webhooks", '{"url": "http://127.0.0.1:9/h\\u0000"}'),
    ]
    for path, raw in cases:
        assert_error(await post_raw(api, path, raw), 400, "invalid_text")
    assert await Export.all().count() == 0
    assert await WebhookEndpoint.all().count() == 0
    hook = (await api.alice.post("/api/webhooks", json={"url": "http://127.0.0.1:9/h"})).json()
    response = await api.alice.patch(
        f"/api/webhooks/{hook['id']}",
        content=b'{"description": "\\udc00"}',
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, "invalid_text")
    assert (await api.alice.get(f"/api/webhooks/{hook['id']}")).json()["description"] == ""


async def test_json_nested_too_deep_is_400(api: Api, source: dict[str, Any]) -> None:
    path = f"/api/projects/{source['id']}/moments"
    for depth in (40, 100_000):
        raw = '{"start_s": 0, "end_s": 1, "x": ' + "[" * depth + "]" * depth + "}"
        assert_error(await post_raw(api, path, raw), 400, "json_too_deep")
    assert await Moment.all().count() == 0


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "application/jsonx", "text/json", "application/xml"],
)  # fmt: skip
async def test_body_with_a_non_json_content_type_is_415(
    api: Api, source: dict[str, Any], content_type: str
) -> None:
    raw = '{"start_s": 0, "end_s": 1}'
    response = await post_raw(api, f"/api/projects/{source['id']}/moments", raw, content_type)
    assert_error(response, 415, "unsupported_media_type")
    assert await Moment.all().count() == 0


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON",
     "application/merge-patch+json", "application/vnd.reelay+json; charset=UTF-8", None],
)  # fmt: skip
async def test_json_content_types_and_none_are_accepted(
    api: Api, source: dict[str, Any], content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await api.alice.post(
        f"/api/projects/{source['id']}/moments",
        content=b'{"start_s": 0, "end_s": 1}',
        headers=headers,
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("segment", ["%ED%A0%80", "%FF", "abc%00", "%C0%80"])
async def test_path_that_is_not_valid_text_is_400(api: Api, segment: str) -> None:
    for path in (f"/api/projects/{segment}", f"/api/exports/{segment}/cancel"):
        method = "POST" if path.endswith("cancel") else "GET"
        response = await api.alice.request(method, path)
        assert_error(response, 400, "invalid_text")


async def test_percent_encoded_unicode_in_a_path_is_just_an_unknown_id(api: Api) -> None:
    response = await api.alice.get("/api/projects/%E5%AD%97%E5%B9%95")
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("query", ["since=%FF", "since=%ED%A0%80", "x%00=1", "since=1%00"])
async def test_query_that_is_not_valid_text_is_400(
    api: Api, source: dict[str, Any], query: str
) -> None:
    response = await api.alice.get(f"/api/projects/{source['id']}/events?{query}")
    assert_error(response, 400, "invalid_text")


async def test_idempotency_key_must_be_utf8_text(api: Api, source: dict[str, Any]) -> None:
    mom = await moment(api.alice, source["id"])
    path = f"/api/projects/{source['id']}/exports"
    for bad in (b"\xff\xfe", b"\xed\xa0\x80", b"a\x01b"):
        response = await api.alice.post(
            path, json={"moment_ids": [mom["id"]]}, headers={"Idempotency-Key": bad}
        )
        message = assert_error(response, 400, "invalid_text")
        assert message.startswith("idempotency-key:"), message
    assert await Export.all().count() == 0
    key = "clé-1".encode()
    first = await api.alice.post(
        path, json={"moment_ids": [mom["id"]]}, headers={"Idempotency-Key": key}
    )
    again = await api.alice.post(
        path, json={"moment_ids": [mom["id"]]}, headers={"Idempotency-Key": key}
    )
    assert first.status_code == again.status_code == 202, first.text
    assert again.json() == first.json()
    assert await Export.all().count() == 1


async def test_authorization_that_is_not_text_is_400_not_a_crash(api: Api) -> None:
    response = await api.anon.get("/api/projects", headers={"Authorization": b"Bearer \xff"})
    assert_error(response, 400, "invalid_text")


def multipart(disposition: bytes, content: bytes, *, extra: bytes = b"") -> bytes:
    return (
        b"--b\r\nContent-Disposition: form-data; " + disposition + b"\r\n"
        b"Content-Type: video/mp4\r\n\r\n" + content + b"\r\n" + extra + b"--b--\r\n"
    )


def stored_files(api: Api) -> list[Path]:
    root = api.settings.data_dir / "media"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize(
    ("disposition", "extra"),
    [
        (b'name="file"; filename="\xff\xfe.mp4"', b""),
        (b'name="file"; filename="a\xed\xa0\x80.mp4"', b""),
        (b'name="file"; filename="a\x00.mp4"', b""),
        (
            b'name="file"; filename="clip.mp4"',
            b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\n\xc3\x28\r\n',
        ),
        (
            b'name="file"; filename="clip.mp4"',
            b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nab\x00c\r\n',
        ),
        (
            b'name="file"; filename="clip.mp4"',
            b'--b\r\nContent-Disposition: form-data; name="n\xff"\r\n\r\nx\r\n',
        ),
    ],
)
async def test_upload_with_invalid_text_is_400_and_leaves_nothing(
    api: Api, media: Media, disposition: bytes, extra: bytes
) -> None:
    response = await api.alice.post(
        "/api/projects",
        content=multipart(disposition, media.video.read_bytes(), extra=extra),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert_error(response, 400, "invalid_text")
    assert await Project.all().count() == 0
    assert stored_files(api) == []


async def test_upload_with_international_names_is_kept_as_sent(api: Api, media: Media) -> None:
    response = await api.alice.post(
        "/api/projects",
        content=multipart(
            'name="file"; filename="クリップ.mp4"'.encode(),
            media.video.read_bytes(),
            extra='--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nÉté 字幕\r\n'.encode(),
        ),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Été 字幕"
