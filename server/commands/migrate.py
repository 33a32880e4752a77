"""``reelay migrate``: apply pending database migrations and say which ran, then repair
stored text that is not valid Unicode and say how many rows it fixed.

``--check`` fails when the models changed without a migration (CI); ``--make NAME`` writes
that migration (developers).
"""

from __future__ import annotations

import argparse
import asyncio

from server.adapters.db import (
    close_db,
    init_db,
    make_migrations,
    migrate_database,
    pending_model_changes,
)
from server.settings import Settings, load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if the models have changes no migration covers",
    )
    mode.add_argument(
        "--make",
        metavar="NAME",
        help="write a migration for model changes, e.g. --make add_export_priority",
    )


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(load_settings(), check=args.check, make=args.make))


async def _run(settings: Settings, *, check: bool = False, make: str | None = None) -> int:
    await init_db(settings, apply_migrations=False)
    try:
        if check:
            return _report_pending(await pending_model_changes())
        if make:
            paths = await make_migrations(make)
            for path in paths:
                print(f"wrote {path}")
            if not paths:
                print("no model changes")
            return 0
        report = await migrate_database(settings.resolved_database_url)
        for name in report.applied:
            print(f"applied {name}")
        if not report.applied:
            print("database is up to date")
        if report.repaired_rows:
            print(f"repaired {report.repaired_rows} rows holding text that is not valid Unicode")
        return 0
    finally:
        await close_db()


def _report_pending(operations: list[str]) -> int:
    if not operations:
        print("models match the migrations")
        return 0
    print("models have changes without a migration (run `reelay migrate --make NAME`):")
    for operation in operations:
        print(f"  {operation}")
    return 1
