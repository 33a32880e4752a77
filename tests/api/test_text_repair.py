"""Rows stored with text that is not valid Unicode (before the edges refused it) are
repaired after migrations, and then served again: 200 with U+FFFD where the bad text was.

On SQLite such rows can exist: a JSON column written with ``ensure_ascii`` holds the
escape ``"\\udc00"``, and a text column can hold any bytes. PostgreSQL refuses both at
write time, so there the test proves the refusal and that the repair finds nothing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tortoise import connections

from server.adapters.db import migrate_database
from server.adapters.text_repair import repair_stored_text, repaired_json, repaired_text
from server.domain.models import Export, Moment, Project, WebhookEndpoint
from tests.api.conftest import Api, Media
from tests.api.helpers import exports, moment, project

REPO = Path(__file__).resolve().parents[2]
#: UTF-8-style bytes of the lone surrogate U+D800, and a byte no UTF-8 text holds.
BAD_BYTES = ("EDA080", "FF")


@pytest.fixture
async def rows(api: Api, media: Media) -> dict[str, Any]:
    """A project, a moment, an export and a webhook endpoint of alice's, all valid."""
    source = await project(api.alice, media.video)
    mom = await moment(
        api.alice, source["id"], captions=[{"start_s": 0.6, "end_s": 1.4, "text": "hi"}]
    )
    batch = await exports(api.alice, source["id"], [mom["id"]])
    hook = await api.alice.post("/api/webhooks", json={"url": "http://127.0.0.1:9/h"})
    return {
        "project": source["id"],
        "moment": mom["id"],
        "export": batch["exports"][0]["id"],
        "webhook": hook.json()["id"],
    }


def is_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


async def corrupt(rows: dict[str, Any]) -> None:
    """Write invalid text into one text or JSON column of each row, past the API."""
    sql = connections.get("default")
    # The Tortoise JSON encoder escapes (ensure_ascii): what the old moments route wrote.
    await Moment.filter(id=rows["moment"]).update(
        captions=[{"start_s": 0.6, "end_s": 1.4, "text": "a\udc00b"}]
    )
    good, bad = BAD_BYTES
    statements = [
        ("projects", "name", rows["project"], f"X'61{bad}'"),
        ("moments", "title", rows["moment"], f"X'{good}'"),
        ("exports", "error_message", rows["export"], f"X'{good}{bad}'"),
        ("webhook_endpoints", "description", rows["webhook"], f"X'{good}'"),
    ]
    for table, column, row_id, blob in statements:
        await sql.execute_query(
            f'UPDATE "{table}" SET "{column}" = CAST({blob} AS TEXT) WHERE "id" = ?', [row_id]
        )


async def assert_served(api: Api, rows: dict[str, Any]) -> dict[str, Any]:
    """Every read of the rows answers 200; returns the bodies."""
    paths = {
        "project": f"/api/projects/{rows['project']}",
        "moments": f"/api/projects/{rows['project']}/moments",
        "moment": f"/api/moments/{rows['moment']}",
        "export": f"/api/exports/{rows['export']}",
        "exports": f"/api/projects/{rows['project']}/exports",
        "webhook": f"/api/webhooks/{rows['webhook']}",
        "webhooks": "/api/webhooks",
        "projects": "/api/projects",
    }
    bodies = {}
    for name, path in paths.items():
        response = await api.alice.get(path)
        assert response.status_code == 200, (path, response.text)
        bodies[name] = response.json()
    return bodies


async def test_sqlite_rows_with_invalid_text_are_repaired_and_served(
    api: Api, rows: dict[str, Any]
) -> None:
    if is_postgres():
        pytest.skip("PostgreSQL cannot hold such rows (see the PostgreSQL test)")
    await corrupt(rows)
    report = await migrate_database(api.settings.resolved_database_url)
    assert report.applied == [] and report.repaired_rows == 4
    assert await repair_stored_text() == 0  # idempotent: nothing left
    bodies = await assert_served(api, rows)
    assert bodies["project"]["name"] == "a\ufffd"
    assert bodies["moment"]["title"] == "\ufffd"
    assert bodies["moment"]["captions"][0]["text"] == "a\ufffdb"
    assert bodies["moments"]["moments"] == [bodies["moment"]]
    assert bodies["webhook"]["description"] == "\ufffd"
    assert (await Export.get(id=rows["export"])).error_message == "\ufffd\ufffd"
    assert (await Project.get(id=rows["project"])).user_id == "alice"  # owners untouched


async def test_a_stored_surrogate_is_served_before_any_repair(
    api: Api, rows: dict[str, Any]
) -> None:
    """Defence in depth: the JSON answer replaces what it cannot encode, so the project's
    moments never answer 500, repair or not."""
    if is_postgres():
        pytest.skip("PostgreSQL cannot hold such rows")
    await Moment.filter(id=rows["moment"]).update(
        captions=[{"start_s": 0.6, "end_s": 1.4, "text": "a\udc00b"}]
    )
    bodies = await assert_served(api, rows)
    assert bodies["moment"]["captions"][0]["text"] == "a\ufffdb"


async def test_postgres_refuses_invalid_text_so_nothing_needs_repair(
    api: Api, rows: dict[str, Any]
) -> None:
    if not is_postgres():
        pytest.skip("SQLite stores such rows (see the SQLite test)")
    sql = connections.get("default")
    with pytest.raises(Exception, match="surrogate"):  # jsonb refuses the escape
        await Moment.filter(id=rows["moment"]).update(captions=[{"text": "a\udc00b"}])
    with pytest.raises(Exception, match="surrogates not allowed"):  # the driver refuses
        await WebhookEndpoint.filter(id=rows["webhook"]).update(description="\udc00")
    with pytest.raises(Exception, match="invalid byte sequence"):  # the server refuses
        await sql.execute_query(
            """UPDATE "projects" SET "name" = convert_from('\\xeda080'::bytea, 'UTF8')"""
        )
    assert (await migrate_database(api.settings.resolved_database_url)).repaired_rows == 0
    await assert_served(api, rows)


def reelay_migrate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "server.cli", "migrate"]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


async def test_reelay_migrate_says_how_many_rows_it_repaired(
    api: Api, rows: dict[str, Any]
) -> None:
    if is_postgres():
        pytest.skip("PostgreSQL cannot hold such rows")
    await corrupt(rows)
    env = {
        **os.environ,
        "REELAY_DATA_DIR": str(api.settings.data_dir),
        "REELAY_DATABASE_URL": api.settings.resolved_database_url,
    }
    first = await asyncio.to_thread(reelay_migrate, env)
    assert first.returncode == 0, first.stderr
    assert "repaired 4 rows" in first.stdout
    again = await asyncio.to_thread(reelay_migrate, env)
    assert again.returncode == 0 and "repaired" not in again.stdout
    await assert_served(api, rows)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain", None),
        ("a\udc00", "a\ufffd"),
        (b"caf\xc3\xa9", None),
        (b"a\xed\xa0\x80b", "a\ufffdb"),
        (b"\xff", "\ufffd"),
        (None, None),
    ],
)
def test_repaired_text(raw: str | bytes | None, expected: str | None) -> None:
    assert repaired_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('["ok", {"k": 1}]', None),
        ('["\\udc00"]', ["\ufffd"]),
        ('{"\\ud800": "\\ud83c\\udfac"}', {"\ufffd": "🎬"}),
        (b'["\xed\xa0\x80"]', ["\ufffd"]),
        ('[NaN, "x"]', None),
        ("not json", None),
    ],
)
def test_repaired_json(raw: str | bytes, expected: Any) -> None:
    assert repaired_json(raw) == expected
