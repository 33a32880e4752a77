"""Repair rows stored before the edges refused invalid text: every text and JSON column of
every model, lone surrogates (and undecodable bytes) replaced by U+FFFD.

Such a row made every read of it answer 500 for good: a JSON column written with
``ensure_ascii`` escapes (``"\\udc00"``) reads back as a lone surrogate; bytes written to a
SQLite text column outside the driver do not decode at all. Columns are read raw (bytes
on SQLite, text on PostgreSQL) so the scan itself cannot trip on what it looks for.

PostgreSQL validates UTF-8 on write and refuses a lone surrogate in ``jsonb``, so there
the scan finds nothing; it runs all the same, one rule for every database. Ownership
(``user_id``), keys and enumerations are never rewritten. Idempotent: a repaired row has
nothing left to repair.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields import CharField, JSONField, TextField
from tortoise.fields.data import CharEnumFieldInstance
from tortoise.models import Model

from server.text import is_valid_text, safe_text, sanitize_json_value

logger = logging.getLogger(__name__)

#: Rows read per query; keyset pagination on the primary key keeps memory flat.
BATCH_ROWS = 500

#: Columns never rewritten whatever they hold: who owns a row is not ours to change.
NEVER_REWRITTEN = frozenset({"user_id"})


@dataclass(frozen=True)
class _Column:
    field: str
    column: str
    is_json: bool
    max_length: int | None


def _columns(model: type[Model]) -> list[_Column]:
    """The model's free-text columns: text and JSON fields that are not a key, a reference,
    an enumeration or an owner."""
    meta = model._meta
    found = []
    for name, field in meta.fields_map.items():
        if not isinstance(field, CharField | TextField | JSONField):
            continue
        if field.pk or getattr(field, "reference", None) is not None:
            continue
        if isinstance(field, CharEnumFieldInstance) or name in NEVER_REWRITTEN:
            continue
        max_length = field.max_length if isinstance(field, CharField) else None
        found.append(
            _Column(name, meta.fields_db_projection[name], isinstance(field, JSONField), max_length)
        )
    return found


def repaired_text(raw: str | bytes | None) -> str | None:
    """The valid text for a raw column value, or None when it needs no repair."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return None if is_valid_text(raw) else safe_text(raw)
    try:
        raw.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    # One U+FFFD per encoded surrogate and per undecodable sequence.
    pieces: list[str] = []
    while raw:
        try:
            pieces.append(raw.decode("utf-8", "surrogatepass"))
            break
        except UnicodeDecodeError as exc:
            pieces += [raw[: exc.start].decode("utf-8", "surrogatepass"), "\ufffd"]
            raw = raw[exc.end :]
    return safe_text("".join(pieces))


def repaired_json(raw: str | bytes | None) -> Any:
    """The repaired JSON value for a raw column value, or None when it needs no repair
    (or is not JSON at all: nothing this pass can safely rewrite)."""
    if raw is None:
        return None
    text = repaired_text(raw)
    changed = text is not None
    if text is None:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    try:
        value = json.loads(text)
    except ValueError:
        logger.warning("a JSON column holds text that is not JSON; left as it is")
        return None
    clean = sanitize_json_value(value)
    # compared as text: NaN (which old rows may hold) is unequal to itself
    return clean if changed or json.dumps(clean) != json.dumps(value) else None


async def repair_stored_text(connection: BaseDBAsyncClient | None = None) -> int:
    """Rewrite every row holding text that is not valid Unicode; returns how many rows."""
    connection = connection or connections.get("default")
    total = 0
    for model in Tortoise.apps["models"].values():
        columns = _columns(model)
        if not columns:
            continue
        fixed = 0
        async for pk, row in _rows(connection, model, columns):
            changes = _changes(row, columns)
            if changes:
                await model.filter(pk=pk).using_db(connection).update(**changes)
                fixed += 1
        if fixed:
            logger.warning(
                "repaired %d %s rows holding text that is not valid Unicode",
                fixed,
                model._meta.db_table,
            )
        total += fixed
    logger.info("stored text checked: %d rows repaired", total)
    return total


def _changes(row: dict[str, Any], columns: list[_Column]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for column in columns:
        raw = row[column.column]
        if column.is_json:
            value = repaired_json(raw)
            if value is not None:
                changes[column.field] = value
            continue
        text = repaired_text(raw)
        if text is not None:
            changes[column.field] = text[: column.max_length] if column.max_length else text
    return changes


async def _rows(
    connection: BaseDBAsyncClient, model: type[Model], columns: list[_Column]
) -> AsyncIterator[tuple[Any, dict[str, Any]]]:
    """(primary key, raw column values) of every row, in key order, a batch at a time."""
    meta = model._meta
    postgres = connection.capabilities.dialect == "postgres"
    pk = meta.db_pk_column
    raw = [
        f'"{c.column}"::text AS "{c.column}"'
        if postgres
        else f'CAST("{c.column}" AS BLOB) AS "{c.column}"'
        for c in columns
    ]
    select = f'SELECT "{pk}" AS "pk", {", ".join(raw)} FROM "{meta.db_table}"'
    after = f'WHERE "{pk}" > {"$1" if postgres else "?"}'
    order = f'ORDER BY "{pk}" LIMIT {BATCH_ROWS}'
    last: Any = None
    while True:
        if last is None:
            _, rows = await connection.execute_query(f"{select} {order}")
        else:
            _, rows = await connection.execute_query(f"{select} {after} {order}", [last])
        for row in rows:
            yield row["pk"], {c.column: row[c.column] for c in columns}
        if len(rows) < BATCH_ROWS:
            return
        last = rows[-1]["pk"]
