"""Property-based tests (Hypothesis) over the JSON API of a live server, on SQLite and
PostgreSQL: whatever a client sends to any JSON-body route or query parameter —
arbitrary Unicode (lone surrogates and NUL included), deep nesting, huge, negative,
float, boolean and null values in every field, wrong types, extra keys, odd
Content-Types — the answer is never a 5xx, every 4xx has the error shape, the server
logs no traceback or error, and every write it accepts reads back with 200.

JSON bodies are generated as Python values and written with ``json.dumps`` in ASCII mode,
which escapes lone surrogates as ``\\udXXX`` (the one way to send them); deep nesting is
spliced in as raw text. Runs are bounded and deterministic (``derandomize``).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.adapters.auth import issue_token
from server.api.openapi import build_document
from server.app import create_app
from server.domain.notifications import WEBHOOK_EVENT_TYPES
from server.settings import Settings
from tests.api.conftest import Media
from tests.conftest import POSTGRES_ENV, free_port, pg_schema, with_query
from tests.security.live_app import running_live_app

SECRET = "properties-secret-" + "p" * 32
AUTH = {"Authorization": f"Bearer {issue_token(SECRET, 'alice', ttl_s=3600)}"}
REPO = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 100
#: What the server log must never show: a crash, an error, or an answer that had to be
#: repaired because invalid text got past the edge into storage.
LOG_ALARMS = ("Traceback", "ERROR", "Exception in ASGI", "wrote a repaired copy")

PROPERTY_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Live:
    """A uvicorn process on 127.0.0.1, its log file, and IDs of alice's real objects."""

    base: str
    log: Path
    ids: dict[str, str]

    def new_log(self, since: int) -> str:
        return self.log.read_bytes()[since:].decode("utf-8", "replace")

    def log_size(self) -> int:
        return self.log.stat().st_size


def _database_url(kind: str) -> str:
    if kind == "sqlite":
        return ""  # SQLite under the data dir
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests need {POSTGRES_ENV}", pytrace=False)
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}")
    schema = f"reelay_props_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(pg_schema(base, schema))
    return with_query(base, schema=schema)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live(
    request: pytest.FixtureRequest,
    redis_url: str,
    media: Media,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Live]:
    """``uvicorn tests.security.live_app:create`` on the given database, seeded."""
    database_url = _database_url(request.param)
    data_dir = tmp_path_factory.mktemp(f"props-{request.param}")
    log = data_dir / "server.log"
    variables = {
        "REELAY_DATA_DIR": str(data_dir),
        "REELAY_JWT_SECRET": SECRET,
        "REELAY_DATABASE_URL": database_url,
        "REELAY_STORAGE_URL": "",
        "REELAY_JWKS_URL": "",
        "REELAY_WEBHOOKS_ALLOW_PRIVATE": "1",
        "REELAY_MAX_ACTIVE_EXPORTS": "100000",
    }
    try:
        with (
            log.open("wb") as sink,
            running_live_app(free_port(), redis_url, variables, sink) as base,
        ):
            yield Live(base, log, _seed(base, media))
    finally:
        if database_url:
            schema = httpx.URL(database_url).params["schema"]
            asyncio.run(pg_schema(os.environ[POSTGRES_ENV], schema, drop=True))


def _seed(base: str, media: Media) -> dict[str, str]:
    with httpx.Client(base_url=base, headers=AUTH, timeout=30) as client:
        with media.video.open("rb") as handle:
            source = client.post("/api/projects", files={"file": ("clip.mp4", handle)}).json()
        moment = client.post(
            f"/api/projects/{source['id']}/moments", json={"start_s": 0.5, "end_s": 2.0}
        ).json()
        hook = client.post("/api/webhooks", json={"url": "http://127.0.0.1:9/hook"}).json()
    return {"project_id": source["id"], "moment_id": moment["id"], "webhook_id": hook["id"]}


# --- what clients send -------------------------------------------------------------------

#: Characters of any kind, lone surrogates and NUL made common rather than left to chance.
CHARS = st.one_of(
    st.characters(),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.sampled_from(["\x00", "\ufffd", "\u202e", "😀", "字"]),
)
TEXT = st.one_of(
    st.text(alphabet=CHARS, max_size=30),
    st.sampled_from(["", " ", "\udc00", "\ud800x", "a\x00b", "\ud83c\udfac", "x" * 300]),
    st.integers(min_value=256, max_value=3000).map(lambda n: "é" * n),
)
NUMBER = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10**400, -(10**400), 2**63, 0, -1, 1e308, -0.0, 5e-324]),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)
JUNK = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
#: Placeholder strings replaced by raw nested arrays after encoding.
DEEP = st.integers(min_value=1, max_value=5000).map(lambda depth: f"\u2603DEEP{depth}\u2603")


#: Text that must never be stored: a NUL or a lone surrogate somewhere in ordinary text.
NASTY_TEXT = st.tuples(
    st.text(max_size=10),
    st.sampled_from(["\x00", "\udc00", "\ud800", "\udbff\udbff", "\udfff\ud800"]),
    st.text(max_size=10),
).map("".join)
HOSTILE = st.one_of(
    NASTY_TEXT, NASTY_TEXT, JUNK, DEEP, st.sampled_from(["用户@例子.广告", "a@b", "4k", ["x"] * 50])
)


def field(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: often a valid one, otherwise anything at all."""
    return st.one_of(valid, valid, NASTY_TEXT, JUNK, DEEP)


def body(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A valid object; the same with one field made hostile; any subset of ``fields``,
    each possibly anything, plus extra keys; or, sometimes, not an object at all."""
    valid = st.fixed_dictionaries(fields)  # every field, each from its usual values
    one_bad = valid.flatmap(
        lambda known: st.builds(
            lambda name, value: {**known, name: value}, st.sampled_from(sorted(known)), HOSTILE
        )
    )
    objects = st.builds(
        lambda known, extra: {**extra, **known},
        st.fixed_dictionaries({}, optional={name: field(s) for name, s in fields.items()}),
        st.dictionaries(TEXT, JUNK, max_size=2),
    )
    return st.one_of(valid, valid, one_bad, one_bad, objects, JUNK, DEEP)


def encode(value: Any) -> bytes:
    """JSON text of ``value`` (ASCII: lone surrogates as ``\\udXXX``, NaN as is), with
    every DEEP placeholder spliced in as raw nesting that deep."""
    text = json.dumps(value)
    while "\\u2603DEEP" in text:
        start = text.index('"\\u2603DEEP')
        end = text.index('\\u2603"', start + 1) + len('\\u2603"')
        depth = int(text[start + len('"\\u2603DEEP') : end - len('\\u2603"')])
        text = text[:start] + "[" * depth + "]" * depth + text[end:]
    return text.encode("ascii")


#: Usual values are mostly valid (hostile text and numbers come in through JUNK), so the
#: generated requests reach past validation into storage and the reads after it.
CLEAN_TEXT = st.text(max_size=30)
CAPTION = {"start_s": st.just(1.0), "end_s": st.just(1.4), "text": field(CLEAN_TEXT)}
CAPTIONS = st.lists(st.fixed_dictionaries(CAPTION), max_size=2)
EMAILS = st.none() | st.sampled_from(["me@example.com", "x@例子.广告"])
URLS = st.sampled_from(["http://127.0.0.1:9/h", "http://hooks.test/x", "http://[::1]:9/"])
EVENTS = st.lists(st.sampled_from(WEBHOOK_EVENT_TYPES), min_size=1, unique=True)


@dataclass(frozen=True)
class JsonRoute:
    """How to fill one JSON-body route's body, and what must read back after a 2xx."""

    fields: dict[str, st.SearchStrategy[Any]]
    reads: Callable[[dict[str, str], dict[str, Any]], list[str]]


def _moment_reads(ids: dict[str, str], answer: dict[str, Any]) -> list[str]:
    return [f"/api/projects/{ids['project_id']}/moments", f"/api/moments/{answer['id']}"]


def _captions_reads(ids: dict[str, str], answer: dict[str, Any]) -> list[str]:
    return [f"/api/projects/{ids['project_id']}/moments", f"/api/moments/{ids['moment_id']}"]


def _export_reads(ids: dict[str, str], answer: dict[str, Any]) -> list[str]:
    return [
        f"/api/projects/{ids['project_id']}/exports",
        f"/api/batches/{answer['batch_id']}",
        *(f"/api/exports/{export['id']}" for export in answer["exports"]),
    ]


def _webhook_reads(ids: dict[str, str], answer: dict[str, Any]) -> list[str]:
    return ["/api/webhooks", f"/api/webhooks/{answer['id']}"]


WEBHOOK_FIELDS = {
    "url": URLS,
    "events": EVENTS,
    "description": CLEAN_TEXT,
    "enabled": st.booleans(),
}

#: Every JSON-body route of the routing table (checked below) → its generator.
JSON_ROUTES: dict[str, JsonRoute] = {
    "POST /api/projects/{project_id}/moments": JsonRoute(
        {
            "start_s": st.floats(min_value=0, max_value=1),
            "end_s": st.floats(min_value=1.5, max_value=3),
            "title": CLEAN_TEXT,
            "focus_x": st.floats(min_value=0, max_value=1),
            "captions": CAPTIONS,
        },
        _moment_reads,
    ),
    "POST /api/projects/{project_id}/exports": JsonRoute(
        {
            "moment_ids": st.just(["{moment_id}"]),
            "aspect_ratio": st.sampled_from(["9:16", "1:1", "4:5", "16:9", "original"]),
            "resolution": st.sampled_from(["720p", "1080p"]),
            "captions": st.booleans(),
            "notify_email": EMAILS,
        },
        _export_reads,
    ),
    "PATCH /api/moments/{moment_id}/captions": JsonRoute(
        {
            "captions": CAPTIONS,
            "caption_style": st.fixed_dictionaries(
                {},
                optional={
                    "preset": st.sampled_from(["classic", "karaoke", "box", "pop"]),
                    "position": st.sampled_from(["bottom", "middle", "top"]),
                    "size": st.floats(min_value=0.5, max_value=2.0),
                    "color": st.sampled_from(["#FFFFFF", "#00ff7f"]),
                    "max_lines": st.integers(min_value=1, max_value=3),
                },
            ),
        },
        _captions_reads,
    ),
    "POST /api/moments/{moment_id}/align": JsonRoute({"text": CLEAN_TEXT}, _captions_reads),
    "POST /api/webhooks": JsonRoute(WEBHOOK_FIELDS, _webhook_reads),
    "PATCH /api/webhooks/{webhook_id}": JsonRoute(WEBHOOK_FIELDS, _webhook_reads),
}

CONTENT_TYPES = st.sampled_from(
    ["application/json; charset=utf-8", "application/problem+json", None, "text/plain",
     "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "json"]
)  # fmt: skip
#: Header values, as bytes: whatever an HTTP/1.1 client can put on the wire (h11 allows
#: visible ASCII and any byte from 0x80, with inner spaces and tabs; no controls).
HEADER_BYTES = st.binary(min_size=1, max_size=40).map(
    lambda raw: (
        bytes(b for b in raw if b in (9, 32) or 0x21 <= b <= 0x7E or b >= 0x80).strip() or b"k"
    )
)

KEYS = st.one_of(st.uuids().map(lambda u: str(u).encode()), HEADER_BYTES)


def requests(
    fields: dict[str, st.SearchStrategy[Any]],
) -> st.SearchStrategy[tuple[Any, str | None, bytes | None]]:
    """(body, Content-Type, Idempotency-Key): a hostile body sent as JSON; or a valid body
    with a hostile Content-Type or key — one axis at a time, so each is reached."""
    valid = st.fixed_dictionaries(fields)
    return st.one_of(
        st.tuples(body(fields), st.just("application/json"), st.none()),
        st.tuples(body(fields), st.just("application/json"), st.none()),
        st.tuples(valid, CONTENT_TYPES, st.none()),
        st.tuples(valid, st.just("application/json"), KEYS),
    )


def _documented() -> dict[str, Any]:
    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"))
    return dict(build_document(app.routes, app.state.settings)["paths"])


def _operations(has: Callable[[dict[str, Any]], bool]) -> list[str]:
    return [
        f"{method.upper()} {path}"
        for path, item in _documented().items()
        for method, operation in item.items()
        if has(operation)
    ]


def _takes_json(operation: dict[str, Any]) -> bool:
    return "application/json" in operation.get("requestBody", {}).get("content", {})


def _has_query(operation: dict[str, Any]) -> bool:
    return any(p["in"] == "query" for p in operation.get("parameters", []))


def _fill(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


# --- what the server must do ----------------------------------------------------------------


def assert_well_answered(response: httpx.Response, what: str) -> None:
    """Not a 5xx; a 4xx carries exactly ``{"error": {"code", "message"}}``."""
    assert response.status_code < 500, f"{what} → {response.status_code}: {response.text}"
    if response.status_code >= 400:
        error = response.json()
        assert set(error) == {"error"}, (what, error)
        assert set(error["error"]) == {"code", "message"}, (what, error)
        assert isinstance(error["error"]["code"], str) and error["error"]["code"], (what, error)
        assert isinstance(error["error"]["message"], str), (what, error)


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"]) if response.status_code >= 400 else ""


def assert_quiet_log(live: Live, since: int, what: str) -> None:
    new = live.new_log(since)
    alarms = [line for line in new.splitlines() if any(a in line for a in LOG_ALARMS)]
    assert not alarms, f"{what}: the server logged\n{new[-3000:]}"


def test_every_json_route_has_a_generator() -> None:
    assert set(_operations(_takes_json)) == set(JSON_ROUTES)


@pytest.mark.parametrize("label", sorted(JSON_ROUTES))
def test_json_bodies_never_fail_the_server(live: Live, label: str) -> None:
    route = JSON_ROUTES[label]
    method, template = label.split(" ", 1)
    path = _fill(template, live.ids)
    start = live.log_size()
    answered: Counter[tuple[int, str]] = Counter()

    @PROPERTY_SETTINGS
    @given(request=requests(route.fields))
    def run(request: tuple[Any, str | None, bytes | None]) -> None:
        value, content_type, key = request
        raw = encode(value).replace(b"{moment_id}", live.ids["moment_id"].encode())
        headers: dict[str, str | bytes] = {**AUTH}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if key is not None and "exports" in path:
            headers["Idempotency-Key"] = key
        response = client.request(method, path, content=raw, headers=headers)
        what = f"{label} {raw[:300]!r}"
        assert_well_answered(response, what)
        answered[response.status_code, _code(response)] += 1
        if response.is_success:
            for read in route.reads(live.ids, response.json()):
                assert_well_answered(again := client.get(read, headers=AUTH), f"GET {read}")
                assert again.status_code == 200, (what, read, again.text)
            if label == "POST /api/webhooks":  # stay under the per-user endpoint limit
                client.delete(f"/api/webhooks/{response.json()['id']}", headers=AUTH)

    with httpx.Client(base_url=live.base, timeout=30) as client:
        run()
    assert_quiet_log(live, start, label)
    assert sum(n for (status, _), n in answered.items() if status < 300) >= MAX_EXAMPLES // 20, (
        f"{label}: too few generated bodies accepted to test the reads after writes: {answered}"
    )


QUERY_VALUE = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(lambda n: str(n).encode()),
    st.binary(max_size=30),
    st.sampled_from([b"\xed\xa0\x80", b"\x00", b"1\x00", b"\xff", b"99999999999999999999999"]),
)


def test_every_query_route_is_covered() -> None:
    assert set(_operations(_has_query)) == {
        "GET /api/projects/{project_id}/events",
        "GET /api/webhooks/{webhook_id}/deliveries",
    }


@pytest.mark.parametrize("label", sorted(_operations(_has_query)))
def test_query_parameters_never_fail_the_server(live: Live, label: str) -> None:
    method, template = label.split(" ", 1)
    operation = _documented()[template][method.lower()]
    names = [p["name"].encode() for p in operation["parameters"] if p["in"] == "query"]
    path = _fill(template, live.ids)
    start = live.log_size()

    @PROPERTY_SETTINGS
    @given(
        pairs=st.lists(
            st.tuples(st.sampled_from(names) | st.binary(max_size=8), QUERY_VALUE), max_size=4
        )
    )
    def run(pairs: list[tuple[bytes, bytes]]) -> None:
        query = "&".join(f"{quote_from_bytes(k)}={quote_from_bytes(v)}" for k, v in pairs)
        response = client.request(method, f"{path}?{query}", headers=AUTH)
        assert_well_answered(response, f"{label} ?{query}")

    with httpx.Client(base_url=live.base, timeout=30) as client:
        run()
    assert_quiet_log(live, start, label)
