"""Moments are checked against the probed source; each bad field is a 422 naming it."""

from __future__ import annotations

from typing import Any

import pytest

from server.domain.models import Moment
from tests.api.conftest import Api, Media
from tests.api.helpers import assert_error, project


@pytest.fixture
async def source(api: Api, media: Media) -> dict[str, Any]:
    return await project(api.alice, media.video)  # 3 s long


async def test_create_list_and_get(api: Api, source: dict[str, Any]) -> None:
    body = {
        "start_s": 0.5,
        "end_s": 2.5,
        "title": "Best bit",
        "focus_x": 0.25,
        "captions": [{"start_s": 0.6, "end_s": 1.4, "text": "héllo 世界"}],
    }
    response = await api.alice.post(f"/api/projects/{source['id']}/moments", json=body)
    assert response.status_code == 201, response.text
    moment = response.json()
    assert {k: moment[k] for k in body} == body
    assert moment["project_id"] == source["id"]
    second = (
        await api.alice.post(
            f"/api/projects/{source['id']}/moments", json={"start_s": 0, "end_s": 1}
        )
    ).json()
    assert second["focus_x"] == 0.5 and second["captions"] == [] and second["title"] == ""
    listed = (await api.alice.get(f"/api/projects/{source['id']}/moments")).json()["moments"]
    assert [m["id"] for m in listed] == [second["id"], moment["id"]]
    assert (await api.alice.get(f"/api/moments/{moment['id']}")).json() == moment


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"end_s": 1.0}, "start_s", "validation_error"),
        ({"start_s": 0.0}, "end_s", "validation_error"),
        ({"start_s": "0", "end_s": 1.0}, "start_s", "validation_error"),
        ({"start_s": True, "end_s": 1.0}, "start_s", "validation_error"),
        ({"start_s": 1.0, "end_s": 1.0}, "end_s", "validation_error"),
        ({"start_s": 2.0, "end_s": 1.0}, "end_s", "validation_error"),
        ({"start_s": -0.5, "end_s": 1.0}, "start_s", "validation_error"),
        ({"start_s": 1.0, "end_s": 3.5}, "end_s", "moment_out_of_range"),
        ({"start_s": 0.0, "end_s": 1.0, "focus_x": 1.5}, "focus_x", "validation_error"),
        ({"start_s": 0.0, "end_s": 1.0, "focus_x": -0.1}, "focus_x", "validation_error"),
        ({"start_s": 0.0, "end_s": 1.0, "title": 5}, "title", "validation_error"),
        ({"start_s": 0.0, "end_s": 1.0, "title": "x" * 256}, "title", "validation_error"),
        ({"start_s": 0.0, "end_s": 1.0, "captions": {}}, "captions", "validation_error"),
        ({"start_s": 0.0, "end_s": 1.0, "captions": None}, "captions", "validation_error"),
        ({"start_s": 0.0, "end_s": 1.0, "focus_x": None}, "focus_x", "validation_error"),
        ({"start_s": 0.0, "end_s": 1.0, "captions": ["hi"]}, "captions[0]", "validation_error"),
        (
            {
                "start_s": 1.0,
                "end_s": 2.0,
                "captions": [{"start_s": 0.5, "end_s": 1.5, "text": "a"}],
            },
            "captions[0].start_s",
            "validation_error",
        ),
        (
            {
                "start_s": 1.0,
                "end_s": 2.0,
                "captions": [{"start_s": 1.5, "end_s": 2.5, "text": "a"}],
            },
            "captions[0].start_s",
            "validation_error",
        ),
        (
            {
                "start_s": 1.0,
                "end_s": 2.0,
                "captions": [{"start_s": 1.5, "end_s": 1.2, "text": "a"}],
            },
            "captions[0].end_s",
            "validation_error",
        ),
        (
            {
                "start_s": 1.0,
                "end_s": 2.0,
                "captions": [{"start_s": 1.1, "end_s": 1.2, "text": " "}],
            },
            "captions[0].text",
            "validation_error",
        ),
        (
            {"start_s": 1.0, "end_s": 2.0, "captions": [{"start_s": 1.1, "end_s": 1.2}]},
            "captions[0].text",
            "validation_error",
        ),
        (
            {
                "start_s": 1.0,
                "end_s": 2.0,
                "captions": [{"start_s": 1.1, "end_s": 1.2, "text": "x" * 501}],
            },
            "captions[0].text",
            "validation_error",
        ),
    ],
)
async def test_invalid_moment_is_422_naming_the_field(
    api: Api, source: dict[str, Any], body: dict[str, Any], field: str, code: str
) -> None:
    response = await api.alice.post(f"/api/projects/{source['id']}/moments", json=body)
    message = assert_error(response, 422, code)
    assert message.startswith(field + ":"), message
    assert await Moment.all().count() == 0


@pytest.mark.settings(max_moment_s=1.0)
async def test_moment_longer_than_the_limit_is_422(api: Api, source: dict[str, Any]) -> None:
    response = await api.alice.post(
        f"/api/projects/{source['id']}/moments", json={"start_s": 0.0, "end_s": 1.5}
    )
    assert assert_error(response, 422, "moment_too_long").startswith("end_s:")


@pytest.mark.parametrize("raw", [b"{", b"not json", b'{"start_s": NaN, "end_s": 1}', b"\xff\xfe"])
async def test_malformed_json_is_400(api: Api, source: dict[str, Any], raw: bytes) -> None:
    response = await api.alice.post(
        f"/api/projects/{source['id']}/moments",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, "malformed_json")


async def test_body_must_be_an_object(api: Api, source: dict[str, Any]) -> None:
    response = await api.alice.post(f"/api/projects/{source['id']}/moments", json=[1, 2])
    assert_error(response, 422, "validation_error")


async def test_oversized_json_body_is_413(api: Api, source: dict[str, Any]) -> None:
    body = {"start_s": 0, "end_s": 1, "title": "x" * (2 * 1024 * 1024)}
    response = await api.alice.post(f"/api/projects/{source['id']}/moments", json=body)
    assert_error(response, 413, "payload_too_large")


async def test_unknown_project_is_404(api: Api) -> None:
    response = await api.alice.post(
        "/api/projects/prj_nope/moments", json={"start_s": 0, "end_s": 1}
    )
    assert_error(response, 404, "not_found")
