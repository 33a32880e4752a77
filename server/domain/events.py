"""The event schema (docs/api.md "Events") and the per-project event log in Redis.

Storage choice: one Redis **stream** per project whose entry IDs are ``{seq}-0``. A stream
keeps entries ordered by seq, answers "seq > N" with one XRANGE, trims by length natively
(XADD MAXLEN) and by age through the ``ts`` field each entry carries (trimmed from the
oldest end, so the retained log is always a gap-free seq range). A sorted set would need
the JSON decoded in Lua to learn an entry's age.

Redis holds the log and the counter. If Redis loses its data (restart without
persistence), the next append finds neither and asks ``seq_base`` where to continue: the
service's base (server.domain.event_epochs) knows from the database whether the project had
events before and then continues past every seq ever issued, so a client's old cursor is
below the new log's start and answers ``reset``; ``read_since`` also answers ``reset`` to
a cursor beyond ``last_seq``. Run Redis with persistence in production all the same.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import redis.asyncio
from redis.commands.core import AsyncScript

from server import safe_json
from server.adapters.redis_keys import METRICS, event_channel, event_log, event_once, event_seq
from server.clock import utcnow
from server.settings import Settings

EVENT_TYPES: tuple[str, ...] = (
    "export.queued",
    "export.started",
    "export.progress",
    "export.preview",
    "export.completed",
    "export.failed",
    "export.cancelling",
    "export.cancelled",
    "batch.completed",
    "moment.aligned",
    "moment.align_failed",
)

#: Events delivered to webhooks (and the end of an export's story).
TERMINAL_EVENT_TYPES: frozenset[str] = frozenset(
    {"export.completed", "export.failed", "export.cancelled", "batch.completed"}
)

#: Where an event encoded with seq 0 is split, so the Lua script can put the real seq in.
#: ``id`` is encoded first, and a quote inside it would be escaped, so this cannot occur
#: earlier in the text.
_SEQ_MARK = ',"seq":0,'
#: How an event without data ends; an appending script puts its computed data there.
_EMPTY_DATA = '"data":{}}'

#: The append step (KEYS and ARGV are described at its top), loaded once per client.
APPEND_LUA = (Path(__file__).parent / "event_append.lua").read_text(encoding="utf-8")

#: Where a project's seq continues when Redis has neither its counter nor its log: 0 for
#: a project that never had events; past every seq ever issued after Redis lost its data,
#: so clients see a jump (a gap) and their cursor answers ``reset`` — never a silent gap.
SeqBase = Callable[[str], Awaitable[int]]


def end_event_id(export_id: str, attempt: int) -> str:
    """The stable id of an export attempt's terminal event, whoever emits it (append_once)."""
    return f"evt_{export_id}_a{attempt}_end"


def new_event_id() -> str:
    return f"evt_{secrets.token_urlsafe(12)}"


def format_ts(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``, e.g. ``2026-11-24T12:00:00.123Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Event:
    """One event, exactly the JSON object every transport carries."""

    id: str
    seq: int
    type: str
    project_id: str
    export_id: str | None
    batch_id: str | None
    ts: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        """The one JSON encoding of events: compact, and valid UTF-8 whatever text ``data``
        holds (a lone surrogate becomes U+FFFD). NaN still raises ValueError: numbers in
        events are computed by us, so one is a bug (``append`` documents it)."""
        return safe_json.dumps(self.to_dict(), repair_numbers=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        """Parse what ``to_json`` produced; raises ValueError/KeyError on other input."""
        obj = json.loads(raw)
        return cls(
            id=obj["id"],
            seq=int(obj["seq"]),
            type=obj["type"],
            project_id=obj["project_id"],
            export_id=obj.get("export_id"),
            batch_id=obj.get("batch_id"),
            ts=obj["ts"],
            data=dict(obj.get("data") or {}),
        )


@dataclass(frozen=True)
class _AppendCall:
    """One append: the event (seq 0) and event_append.lua's KEYS and ARGV for it."""

    event: Event
    keys: list[str]
    args: list[str | int]


@dataclass(frozen=True)
class EventPage:
    """Events after a cursor; ``reset`` means the cursor is unusable: reload the snapshot."""

    events: list[Event]
    last_seq: int
    reset: bool = False


class EventLog:
    """Append-and-publish and read-since over a bounded per-project log in Redis.

    ``maxlen`` (entries) and ``max_age_s`` (seconds) bound the log; ``clock`` stamps events
    and decides what is too old (defaults to the wall clock in UTC).
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        maxlen: int,
        max_age_s: float,
        clock: Callable[[], datetime] | None = None,
        seq_base: SeqBase | None = None,
    ) -> None:
        if maxlen < 1:
            raise ValueError(f"maxlen must be at least 1, got {maxlen}")
        if max_age_s <= 0:
            raise ValueError(f"max_age_s must be positive, got {max_age_s}")
        self._client = client
        self._maxlen = maxlen
        self._max_age_ms = int(max_age_s * 1000)
        self._clock = clock or utcnow
        self._append = client.register_script(APPEND_LUA)
        self._seq_base = seq_base

    async def append(
        self,
        project_id: str,
        type: str,
        *,
        export_id: str | None = None,
        batch_id: str | None = None,
        data: Mapping[str, Any] | None = None,
        event_id: str | None = None,
    ) -> Event:
        """Give the event the project's next seq, store it, trim the log and publish it."""
        call = self._prepare(project_id, type, export_id, batch_id, data, event_id, once=False)
        event = await self._write(call)
        assert event is not None  # only once-only appends can be skipped
        return event

    async def append_once(
        self,
        project_id: str,
        type: str,
        *,
        event_id: str,
        export_id: str | None = None,
        batch_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Event | None:
        """``append``, unless ``event_id`` was appended within the log's age (then None).

        A step redone after a crash re-emits its event with the same stable id, safely.
        """
        call = self._prepare(project_id, type, export_id, batch_id, data, event_id, once=True)
        return await self._write(call)

    def appending_script(self, body: str) -> AsyncScript:
        """Register a script that decides in Redis whether (and with which data) to append.

        ``body`` runs with ``append_event(KEYS, ARGV)`` defined (event_append.lua as a
        function): it may call it once with the first 4 KEYS and 8 ARGV that
        ``run_appending`` passes, after building the event's data object into ARGV[2]
        (which ends in ``"data":`` — the body adds the object and the closing ``}``).
        """
        return self._client.register_script(
            f"local function append_event(KEYS, ARGV)\n{APPEND_LUA}\nend\n{body}"
        )

    async def run_appending(
        self,
        script: AsyncScript,
        project_id: str,
        type: str,
        *,
        export_id: str | None,
        batch_id: str | None,
        keys: Sequence[str],
        args: Sequence[str | int | float],
    ) -> Any:
        """Run an ``appending_script``: KEYS/ARGV are the append's 4 and 8, then ``keys`` and
        ``args``. One round trip, except that a reply of -1 (the append asked for a seq
        base: Redis lost the project's counter and log) is answered and the script rerun.
        Returns the script's reply."""
        call = self._prepare(project_id, type, export_id, batch_id, None, None, once=False)
        tail = str(call.args[1])
        if not tail.endswith(_EMPTY_DATA):
            raise RuntimeError("event JSON no longer ends with its data")  # to_dict changed
        head_args = [call.args[0], tail.removesuffix("{}}"), *call.args[2:]]
        return await self._run_with_seq_base(
            script, project_id, [*call.keys, *keys], [*head_args, *args]
        )

    async def _run_with_seq_base(
        self,
        script: AsyncScript,
        project_id: str,
        keys: Sequence[str],
        args: Sequence[str | int | float],
    ) -> Any:
        """Run a script that appends; its reply, once the seq base it may ask for is given.

        A reply of -1 means Redis lost the project's counter and log: the script is run
        again with the seq base (ARGV[7]) from ``seq_base`` (0 without one).
        """
        reply = await script(keys=keys, args=args)
        if reply == -1:
            seq_base = await self._seq_base(project_id) if self._seq_base else 0
            reply = await script(keys=keys, args=[*args[:6], seq_base, *args[7:]])
        return reply

    async def _write(self, call: _AppendCall) -> Event | None:
        """Give the event the project's next seq, store it, trim the log and publish it.

        One Lua script does all of it, so concurrent appenders never share or skip a seq.
        With a once-only call, an id already appended within the log's age is skipped (None).
        """
        project_id = call.event.project_id
        seq = int(await self._run_with_seq_base(self._append, project_id, call.keys, call.args))
        if seq == 0:
            return None
        return replace(call.event, seq=seq)

    def _prepare(
        self,
        project_id: str,
        type: str,
        export_id: str | None,
        batch_id: str | None,
        data: Mapping[str, Any] | None,
        event_id: str | None,
        *,
        once: bool,
    ) -> _AppendCall:
        """The event (seq 0) and the KEYS/ARGV of event_append.lua that append it.

        Raises ValueError for an unknown type or data JSON cannot carry (e.g. NaN).
        """
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r}")
        now = self._clock()
        event = Event(
            id=event_id or new_event_id(),
            seq=0,
            type=type,
            project_id=project_id,
            export_id=export_id,
            batch_id=batch_id,
            ts=format_ts(now),
            data=dict(data or {}),
        )
        head, mark, tail = event.to_json().partition(_SEQ_MARK)
        if not mark:
            raise RuntimeError("event JSON lost its seq field")  # to_dict's key order changed
        now_ms = int(now.timestamp() * 1000)
        args: list[str | int] = [
            head + ',"seq":',
            "," + tail,
            now_ms,
            self._maxlen,
            now_ms - self._max_age_ms,
            event_channel(project_id),
            "",
            self._max_age_ms if once else "",
        ]
        keys = [event_seq(project_id), event_log(project_id), METRICS, event_once(event.id)]
        return _AppendCall(event, keys, args)

    async def read_since(self, project_id: str, since: int, *, limit: int = 500) -> EventPage:
        """Events with ``seq > since``, oldest first, at most ``limit``.

        ``reset`` when ``since`` is older than the retained log (``since < oldest - 1``), or
        beyond ``last_seq`` (only possible after Redis lost the log; see the module doc).
        """
        if since < 0:
            raise ValueError(f"since must be >= 0, got {since}")
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        log = event_log(project_id)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.get(event_seq(project_id))
            pipe.xrange(log, "-", "+", count=1)
            pipe.xrange(log, f"{since + 1}-0", "+", count=limit)
            raw_last, oldest, entries = await pipe.execute()
        last_seq = int(raw_last or 0)
        oldest_seq = _entry_seq(oldest[0][0]) if oldest else last_seq + 1
        if since > last_seq or since < oldest_seq - 1:
            return EventPage(events=[], last_seq=last_seq, reset=True)
        events = [Event.from_json(_field(fields, "e")) for _, fields in entries]
        return EventPage(events=events, last_seq=last_seq, reset=False)

    async def last_seq(self, project_id: str) -> int:
        """The seq of the project's latest event; 0 when it has none."""
        raw = await self._client.get(event_seq(project_id))
        return int(raw or 0)

    async def delete(self, project_id: str) -> None:
        """Forget a deleted project's log and counter."""
        await self._client.delete(event_seq(project_id), event_log(project_id))


def event_log_from_settings(
    client: redis.asyncio.Redis,
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    seq_base: SeqBase | None = None,
) -> EventLog:
    """The event log bounded as configured (``REELAY_EVENT_LOG_MAXLEN`` / ``_MAX_AGE_S``)."""
    return EventLog(
        client,
        maxlen=settings.event_log_maxlen,
        max_age_s=settings.event_log_max_age_s,
        clock=clock,
        seq_base=seq_base,
    )


def _entry_seq(entry_id: str | bytes) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def _field(fields: Mapping[Any, Any], name: str) -> str | bytes:
    # Clients made with decode_responses=True give str keys, the others bytes.
    value = fields[name] if name in fields else fields[name.encode()]
    return cast(str | bytes, value)
