"""Every body is declared once: the model that validates a request is the schema
``/openapi.json`` publishes (limits from settings included), answers match their own
published schema, and the framings come from the render spec's table."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from server.api.shapes import ExportCreate, MomentCreate
from server.domain.models import Moment, Project, WebhookEndpoint
from tests.api.conftest import Api, Media
from tests.api.helpers import assert_error, exports, moment, project
from workers.render.spec import ASPECT_RATIOS, OUTPUT_SIZES, RESOLUTIONS


async def _document(api: Api) -> dict[str, Any]:
    document: dict[str, Any] = (await api.anon.get("/openapi.json")).json()
    return document


def _validator(document: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    """A validator for component ``name`` with the document's refs resolvable."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.settings(max_captions=3, max_caption_chars=7, max_exports_per_request=2)
async def test_limits_that_are_settings_are_published_and_enforced(api: Api, media: Media) -> None:
    schemas = (await _document(api))["components"]["schemas"]
    assert schemas["MomentCreate"]["properties"]["captions"]["maxItems"] == 3
    assert schemas["CaptionCreate"]["properties"]["text"]["maxLength"] == 7
    assert schemas["ExportCreate"]["properties"]["moment_ids"]["maxItems"] == 2
    source = await project(api.alice, media.video)
    url = f"/api/projects/{source['id']}/moments"
    caption = {"start_s": 0.6, "end_s": 0.9, "text": "x" * 8}
    body = {"start_s": 0.5, "end_s": 1.0, "captions": [caption]}
    message = assert_error(await api.alice.post(url, json=body), 422, "validation_error")
    assert message == "captions[0].text: too long (max 7 characters)"
    body["captions"] = [dict(caption, text="ok")] * 4
    message = assert_error(await api.alice.post(url, json=body), 422, "validation_error")
    assert message == "captions: at most 3 items"
    body["captions"] = [dict(caption, text="ok")] * 3
    assert (await api.alice.post(url, json=body)).status_code == 201


async def test_answers_match_the_schemas_published_for_them(api: Api, media: Media) -> None:
    document = await _document(api)
    source = await project(api.alice, media.video)
    mom = await moment(api.alice, source["id"], captions=[{"start_s": 1, "end_s": 2, "text": "a"}])
    batch = await exports(api.alice, source["id"], [mom["id"]])
    hook = (await api.alice.post("/api/webhooks", json={"url": "http://127.0.0.1:9/h"})).json()
    delivery = (await api.alice.post(f"/api/webhooks/{hook['id']}/test")).json()
    answers = {
        "Project": source,
        "Moment": mom,
        "ExportsAccepted": batch,
        "Batch": (await api.alice.get(f"/api/batches/{batch['batch_id']}")).json(),
        "WebhookCreated": hook,
        "WebhookDelivery": delivery,
        "EventPage": (await api.alice.get(f"/api/projects/{source['id']}/events")).json(),
        "Readiness": (await api.anon.get("/readyz")).json(),
    }
    for name, body in answers.items():
        errors = [e.message for e in _validator(document, name).iter_errors(body)]
        assert errors == [], (name, errors)
    # every declared field is answered, not only the required ones
    assert set(batch["exports"][0]) == set(document["components"]["schemas"]["Export"]["required"])


async def test_answers_serve_stored_values_that_a_request_would_be_refused(
    api: Api, media: Media
) -> None:
    """Answers are built from rows without validation: what the database holds is served."""
    source = await project(api.alice, media.video)
    mom = await moment(api.alice, source["id"])
    hook = (await api.alice.post("/api/webhooks", json={"url": "http://127.0.0.1:9/h"})).json()
    await Project.filter(id=source["id"]).update(name="", fps=0.0)
    odd_captions = [{"start_s": 9.0, "end_s": 1.0, "text": ""}]
    await Moment.filter(id=mom["id"]).update(focus_x=1.5, captions=odd_captions)
    await WebhookEndpoint.filter(id=hook["id"]).update(
        events=["export.unknown"], disabled_reason="retired", url="not a url"
    )
    served = (await api.alice.get(f"/api/projects/{source['id']}")).json()
    assert (served["name"], served["fps"]) == ("", 0.0)
    served = (await api.alice.get(f"/api/moments/{mom['id']}")).json()
    assert (served["focus_x"], served["captions"]) == (1.5, odd_captions)
    served = (await api.alice.get(f"/api/webhooks/{hook['id']}")).json()
    assert (served["events"], served["disabled_reason"], served["url"]) == (
        ["export.unknown"],
        "retired",
        "not a url",
    )


async def test_the_framings_are_the_render_specs_table(api: Api) -> None:
    properties = (await _document(api))["components"]["schemas"]["ExportCreate"]["properties"]
    assert properties["aspect_ratio"]["enum"] == list(ASPECT_RATIOS)
    assert properties["resolution"]["enum"] == list(RESOLUTIONS)
    assert {key for key in OUTPUT_SIZES} == {
        (aspect, size) for aspect in ASPECT_RATIOS if aspect != "original" for size in RESOLUTIONS
    }


@pytest.mark.parametrize(
    ("model", "body", "status", "message"),
    [
        (MomentCreate, {"start_s": 0}, 422, "end_s: required"),
        (MomentCreate, {"start_s": False, "end_s": 1}, 422, "start_s: must be a number"),
        (MomentCreate, {"start_s": 0, "end_s": 10**400}, 422, "end_s: must be a number"),
        (MomentCreate, {"start_s": 0, "end_s": float("inf")}, 422, "end_s: must be a finite"),
        (MomentCreate, {"start_s": 1, "end_s": 1}, 422, "end_s: must be greater than start_s"),
        (MomentCreate, {"start_s": 0, "end_s": 1, "focus_x": 2}, 422, "focus_x: must be at most 1"),
        (
            MomentCreate,
            {"start_s": 1, "end_s": 2, "captions": [{"start_s": 0, "end_s": 1, "text": "a"}]},
            422,
            "captions[0].start_s: caption 0.0–1.0 s must lie inside",
        ),
        (  # a NUL is malformed input: it wins over a wrong field before it
            MomentCreate,
            {"start_s": "x", "end_s": 1, "title": "a\x00"},
            400,
            "title: contains a NUL character",
        ),
        (ExportCreate, {"moment_ids": ["a", "a"]}, 422, "moment_ids: must not repeat a moment"),
        (ExportCreate, {"moment_ids": ["a"], "resolution": "4k"}, 422, "resolution: must be one"),
        (ExportCreate, {"moment_ids": ["a"], "captions": 1}, 422, "captions: must be true or"),
        (ExportCreate, {"moment_ids": ["a"], "notify_email": "x"}, 422, "notify_email: "),
    ],
)
async def test_refusals_name_the_field_with_the_same_codes(
    api: Api, model: type, body: dict[str, Any], status: int, message: str
) -> None:
    from pydantic import ValidationError

    from server.http.shapes import as_api_error

    with pytest.raises(ValidationError) as refused:
        model.model_validate(body, context={"settings": api.settings})
    error = as_api_error(refused.value)
    assert error.status == status
    assert error.code == ("invalid_text" if status == 400 else "validation_error")
    assert error.message.startswith(message), error.message
