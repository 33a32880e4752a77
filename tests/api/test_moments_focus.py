"""A moment's focus: the static focus_x, a keyframed focus_track, or auto; a track that
cannot be rendered is a 422 ``focus_track_invalid`` naming the point, and nothing is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from server.domain.models import Moment
from tests.api.conftest import Api, Media
from tests.api.helpers import assert_error, project


@pytest.fixture
async def source(api: Api, media: Media) -> dict[str, Any]:
    return await project(api.alice, media.video)  # 3 s long


async def test_track_and_mode_are_stored_and_answered(api: Api, source: dict[str, Any]) -> None:
    track = [{"t": 0.5, "x": 0.2}, {"t": 1.5, "x": 0.8, "y": 0.4}, {"t": 1.5, "x": 0.1}]
    url = f"/api/projects/{source['id']}/moments"
    made = await api.alice.post(url, json={"start_s": 0.5, "end_s": 2.5, "focus_track": track})
    assert made.status_code == 201, made.text
    assert made.json()["focus_track"] == track and made.json()["focus_mode"] == "manual"
    auto = await api.alice.post(url, json={"start_s": 0, "end_s": 2, "focus_mode": "auto"})
    assert auto.status_code == 201, auto.text
    assert auto.json()["focus_mode"] == "auto" and auto.json()["focus_track"] is None
    again = await api.alice.get(f"/api/moments/{made.json()['id']}")
    assert again.json() == made.json()


@pytest.mark.parametrize(
    ("track", "where"),
    [
        ([{"t": 1.0, "x": 0.5}, {"t": 0.9, "x": 0.5}], "focus_track[1]"),
        ([{"t": 1.0, "x": 0.5}, {"t": 1.2, "x": 1.5}], "focus_track[1]"),
        ([{"t": 0.6, "x": 0.5}, {"t": 1.0, "x": 0.5, "y": -0.1}], "focus_track[1]"),
        ([{"t": 0.6, "x": 0.5}, {"t": 2.9, "x": 0.5}], "focus_track[1]"),
        ([{"t": 0.1, "x": 0.5}], "focus_track[0]"),
        ([{"t": 0.6 + i * 0.001, "x": 0.5} for i in range(1001)], "focus_track[1000]"),
        ([{"t": 0.6, "x": 0.5}, {"t": 0.7, "x": "NaN"}], "focus_track[1]"),
        ([{"t": 0.6, "x": 0.5}, {"t": 0.7, "x": float("nan")}], "focus_track[1]"),
        ([{"t": float("-inf"), "x": 0.5}], "focus_track[0]"),
        ([{"t": 0.6, "x": 0.5}, {"t": 0.7, "x": float("inf")}], "focus_track[1]"),
        ([{"t": 0.6, "x": 0.5}, {"t": 0.8}], "focus_track[1]"),
        ([{"t": 0.6, "x": 0.5}, [0.8, 0.5]], "focus_track[1]"),
        ([{"t": 1, "x": 0.5}, {"t": 1, "x": 0.6}, {"t": 1, "x": 0.7}], "focus_track[2]"),
        ([], "focus_track"),
    ],
)
async def test_bad_tracks_are_refused_naming_the_point(
    api: Api, source: dict[str, Any], track: list[Any], where: str
) -> None:
    body = {"start_s": 0.5, "end_s": 2.5, "focus_track": track}
    before = await Moment.all().count()
    response = await api.alice.post(
        f"/api/projects/{source['id']}/moments",
        content=json.dumps(body),
        headers={"content-type": "application/json"},
    )
    assert_error(response, 422, "focus_track_invalid")
    assert response.json()["error"]["message"].startswith(f"{where}:"), response.text
    assert await Moment.all().count() == before


async def test_nan_elsewhere_is_still_malformed_json(api: Api, source: dict[str, Any]) -> None:
    body = {
        "start_s": 0.5,
        "end_s": 2.5,
        "focus_x": float("nan"),
        "focus_track": [{"t": 1, "x": 0.5}],
    }
    response = await api.alice.post(
        f"/api/projects/{source['id']}/moments",
        content=json.dumps(body),
        headers={"content-type": "application/json"},
    )
    assert_error(response, 400, "malformed_json")


async def test_a_number_too_large_for_a_float_names_its_point(
    api: Api, source: dict[str, Any]
) -> None:
    response = await api.alice.post(
        f"/api/projects/{source['id']}/moments",
        content='{"start_s": 0.5, "end_s": 2.5, "focus_track": [{"t": 1, "x": 1e999}]}',
        headers={"content-type": "application/json"},
    )
    assert_error(response, 422, "focus_track_invalid")
    assert response.json()["error"]["message"].startswith("focus_track[0]:")


async def test_unknown_focus_mode_is_refused(api: Api, source: dict[str, Any]) -> None:
    response = await api.alice.post(
        f"/api/projects/{source['id']}/moments",
        json={"start_s": 0, "end_s": 1, "focus_mode": "faces"},
    )
    assert_error(response, 422, "validation_error")
    assert response.json()["error"]["message"].startswith("focus_mode:")
