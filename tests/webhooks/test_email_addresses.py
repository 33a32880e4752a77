"""Email addresses: email-validator holds the rule, international domains become IDNA
(punycode), international local parts are refused (422), and POST /exports stores only
addresses that pass — nothing written when one does not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio

from server.domain.email_address import InvalidEmail, deliverable_address
from server.domain.models import Export
from tests.api.conftest import Api, running_api
from tests.api.helpers import assert_error, moment, project
from tests.conftest import SettingsFactory
from tests.media import make_video

IDN = "me@bücher.example"
IDN_ASCII = "me@xn--bcher-kva.example"

REFUSED = {
    "nul": "a\x00b@example.com",
    "crlf": "me@example.com\r\nBcc: evil@example.com",
    "lf in local part": "me\n@example.com",
    "non-ascii local part": "josé@example.com",
    "over-long": "me@" + ".".join(label * 60 for label in "abcde") + ".com",  # 311 chars
    "no at-sign": "not-an-email",
    "no dot in domain": "me@localhost",
    "display name": "Me <me@example.com>",
    "space": "me @example.com",
}


@pytest.mark.parametrize("raw", REFUSED.values(), ids=REFUSED.keys())
def test_undeliverable_addresses_are_refused(raw: str) -> None:
    with pytest.raises(InvalidEmail) as refused:
        deliverable_address(raw)
    assert str(refused.value)  # a plain reason for the 422 message


def test_an_international_domain_becomes_idna() -> None:
    assert deliverable_address(IDN) == IDN_ASCII
    assert deliverable_address("Me@BÜCHER.Example") == "Me@xn--bcher-kva.example"
    assert deliverable_address(IDN_ASCII) == IDN_ASCII
    assert deliverable_address("me@example.com") == "me@example.com"


@pytest.fixture
async def api(
    settings: SettingsFactory, db: str, redis_client: redis.asyncio.Redis, tmp_path: Path
) -> AsyncIterator[Api]:
    async with running_api(settings(), redis_client, tmp_path / "no-static") as running:
        yield running


@pytest.fixture
async def moment_id(api: Api, tmp_path: Path) -> tuple[str, str]:
    source = await project(api.alice, make_video(tmp_path / "source.mp4", duration_s=2.0))
    marked = await moment(api.alice, source["id"], start_s=0.0, end_s=1.0)
    return source["id"], marked["id"]


async def _export(api: Api, ids: tuple[str, str], email: Any) -> Any:
    return await api.alice.post(
        f"/api/projects/{ids[0]}/exports", json={"moment_ids": [ids[1]], "notify_email": email}
    )


async def test_an_international_domain_is_stored_as_punycode(
    api: Api, moment_id: tuple[str, str]
) -> None:
    response = await _export(api, moment_id, IDN)
    assert response.status_code == 202, response.text
    [row] = await Export.all()
    assert row.notify_email == IDN_ASCII


@pytest.mark.parametrize(
    "raw",
    [REFUSED[k] for k in ("crlf", "non-ascii local part", "over-long", "display name")],
    ids=["crlf", "non-ascii local part", "over-long", "display name"],
)
async def test_post_exports_refuses_an_undeliverable_address_and_stores_nothing(
    api: Api, moment_id: tuple[str, str], raw: str
) -> None:
    message = assert_error(await _export(api, moment_id, raw), 422, "validation_error")
    assert message.startswith("notify_email:")
    assert len(message) < 300  # a reason, not the input echoed back
    assert await Export.all().count() == 0
    assert await api.queued_messages() == []


async def test_a_nul_in_the_address_is_refused_and_stores_nothing(
    api: Api, moment_id: tuple[str, str]
) -> None:
    response = await _export(api, moment_id, REFUSED["nul"])
    assert response.status_code in {400, 422}, response.text  # the text edge may see it first
    assert response.json()["error"]["code"] in {"invalid_text", "validation_error"}
    assert await Export.all().count() == 0
