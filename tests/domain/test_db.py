"""Migrations on SQLite and PostgreSQL: in sync with the models, clean to apply, safe to race."""

from __future__ import annotations

import asyncio
import contextvars
import os
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise import connections

from server.adapters.db import (
    apply_pending_migrations,
    init_db,
    pending_model_changes,
    split_sqlite_statements,
    sqlite_path,
    tortoise_config,
)
from server.domain.models import Batch, Export, ExportStatus, Moment, Project, new_id
from server.settings import Settings
from tests.conftest import POSTGRES_ENV, pg_schema, with_query

REPO = Path(__file__).resolve().parents[2]


async def test_committed_migrations_match_the_models(db: str) -> None:
    assert await pending_model_changes() == []


async def test_migrations_applied_once_and_recorded(db: str) -> None:
    assert await apply_pending_migrations(db) == []
    _, rows = await connections.get("default").execute_query(
        'SELECT "app", "name" FROM "tortoise_migrations"'
    )
    assert ("models", "0001_initial") in {(row["app"], row["name"]) for row in rows}


async def test_models_round_trip_on_the_migrated_schema(db: str) -> None:
    project = await Project.create(
        id=new_id("prj"), user_id="alice", name="talk; part 1", source_key="projects/p/source",
        duration_s=120.0, width=1920, height=1080, fps=30.0, has_audio=True, size_bytes=1 << 33,
    )  # fmt: skip
    moment = await Moment.create(
        id=new_id("mom"), user_id="alice", project=project, start_s=1.0, end_s=9.5,
        captions=[{"start_s": 1.0, "end_s": 2.0, "text": "字幕"}],
    )  # fmt: skip
    batch = await Batch.create(id=new_id("bat"), user_id="alice", project=project)
    export = await Export.create(
        id=new_id("exp"), user_id="alice", project=project, moment=moment, batch=batch,
        aspect_ratio="9:16", resolution="720p",
    )  # fmt: skip
    loaded = await Export.get(id=export.id).prefetch_related("moment")
    assert loaded.status is ExportStatus.QUEUED
    assert loaded.moment.captions[0]["text"] == "字幕"
    assert (await Project.get(id=project.id)).size_bytes == 1 << 33
    await project.delete()
    assert await Export.filter(id=export.id).count() == 0  # cascades


async def test_each_test_starts_with_empty_tables(db: str) -> None:
    assert await Project.all().count() == 0


@pytest.fixture
async def fresh_database_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the same kind as ``database_url``, never migrated."""
    if database_url.startswith("sqlite"):
        yield f"sqlite://{tmp_path / 'fresh' / 'reelay.sqlite3'}"
        return
    base = os.environ[POSTGRES_ENV]
    schema = f"reelay_fresh_{secrets.token_hex(4)}"
    await pg_schema(base, schema)
    yield with_query(base, schema=schema)
    await pg_schema(base, schema, drop=True)


async def _migrate_in_subprocess(database_url: str, data_dir: Path) -> tuple[int, str]:
    env = {**os.environ, "REELAY_DATABASE_URL": database_url, "REELAY_DATA_DIR": str(data_dir)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "migrate",
        cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_processes_migrating_together_apply_each_migration_once(
    fresh_database_url: str, tmp_path: Path
) -> None:
    results = await asyncio.gather(
        *(_migrate_in_subprocess(fresh_database_url, tmp_path / "data") for _ in range(4))
    )
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    outputs = [output for _, output in results]
    assert sum("applied 0001_initial" in output for output in outputs) == 1, outputs
    assert sum("database is up to date" in output for output in outputs) == 3, outputs


def test_sqlite_url_resolution_and_busy_timeout(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'x.sqlite3'}"
    assert sqlite_path(url) == tmp_path / "x.sqlite3"
    assert sqlite_path("sqlite://:memory:") is None
    assert sqlite_path("postgres://postgres@127.0.0.1:5432/test") is None
    config = tortoise_config(url)
    assert config["connections"]["default"]["credentials"]["busy_timeout"] > 0
    assert config["apps"]["models"]["migrations"] == "server.migrations"


def test_sqlite_statements_split_outside_comments_and_strings() -> None:
    sql = 'CREATE TABLE "a" (x INT) /* one; two */;\nINSERT INTO "a" VALUES (\';\');'
    assert split_sqlite_statements(sql) == [
        'CREATE TABLE "a" (x INT) /* one; two */;',
        "INSERT INTO \"a\" VALUES (';');",
    ]


async def test_init_db_again_from_another_task_replaces_the_first(db: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db)
    await asyncio.create_task(init_db(settings), context=contextvars.Context())
    assert await Project.all().count() == 0  # found through the global fallback
