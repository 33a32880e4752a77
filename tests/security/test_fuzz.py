"""Schemathesis against ``/openapi.json`` of a live uvicorn on 127.0.0.1: a bounded number of
examples per operation (deterministic), zero 5xx, and no response outside its schema.

Path parameters are alternately random and the IDs of real objects (seeded through the
API), so the fuzzing reaches past the 404s into validation; the stateful phase then
chains calls through the document's links (a created project → its moments, exports and
events; an export → cancel, retry, video; a webhook → its deliveries), bounded the same way.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from server.adapters.auth import issue_token
from server.api.openapi import build_document
from server.app import create_app
from server.settings import Settings
from tests.api.conftest import Media
from tests.conftest import free_port
from tests.security.live_app import running_live_app

SECRET = "fuzz-secret-" + "z" * 32
MAX_EXAMPLES = 10
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def live_server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``uvicorn tests.security.live_app:create`` in its own process; yields its base URL."""
    variables = {
        "REELAY_DATA_DIR": str(tmp_path_factory.mktemp("fuzz")),
        "REELAY_JWT_SECRET": SECRET,
        "REELAY_DATABASE_URL": "",
        "REELAY_STORAGE_URL": "",
        "REELAY_JWKS_URL": "",
        "REELAY_MAX_UPLOAD_MB": "8",
        "REELAY_WEBHOOKS_ALLOW_PRIVATE": "1",
    }
    with running_live_app(free_port(), redis_url, variables) as base:
        yield base


AUTH = {"Authorization": f"Bearer {issue_token(SECRET, 'alice', ttl_s=3600)}"}
REAL_IDS: dict[str, str] = {}


@pytest.fixture(scope="module")
def seeded(live_server: str, media: Media) -> dict[str, str]:
    """One real project, moment, export, batch, webhook and delivery of alice's."""
    with httpx.Client(base_url=live_server, headers=AUTH, timeout=30) as client:
        with media.video.open("rb") as handle:
            source = client.post("/api/projects", files={"file": ("clip.mp4", handle)}).json()
        moment = client.post(
            f"/api/projects/{source['id']}/moments", json={"start_s": 0.5, "end_s": 2.0}
        ).json()
        batch = client.post(
            f"/api/projects/{source['id']}/exports", json={"moment_ids": [moment["id"]]}
        ).json()
        hook = client.post("/api/webhooks", json={"url": "http://127.0.0.1:9/hook"}).json()
        delivery = client.post(f"/api/webhooks/{hook['id']}/test").json()
    REAL_IDS.update(
        project_id=source["id"],
        moment_id=moment["id"],
        export_id=batch["exports"][0]["id"],
        batch_id=batch["batch_id"],
        webhook_id=hook["id"],
        delivery_id=delivery["id"],
    )
    return REAL_IDS


def use_real_ids(case: Any) -> None:
    """Every other generated ID (by length parity: deterministic) becomes a real one; never
    for DELETE, so the seeded objects live through the whole run."""
    if case.method.upper() == "DELETE":
        return
    for name, value in list((case.path_parameters or {}).items()):
        if name in REAL_IDS and len(str(value)) % 2 == 0:
            case.path_parameters[name] = REAL_IDS[name]


def operations() -> list[str]:
    """``METHOD /path`` of every documented operation, read from the routing table."""
    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"))
    document = build_document(app.routes, app.state.settings)
    return [f"{m.upper()} {path}" for path, item in document["paths"].items() for m in item]


@pytest.fixture(scope="module")
def api_schema(live_server: str, seeded: dict[str, str]) -> Any:
    schema = schemathesis.openapi.from_url(f"{live_server}/openapi.json")
    # Unknown query parameters are ignored (a tolerant reader), not refused; the bearer
    # token is ours to send, not a parameter to mutate.
    schema.config.generation.update(allow_extra_parameters=False, with_security_parameters=False)
    return schema


#: Operations whose schema-valid input can still be refused for what it means, which JSON
#: Schema cannot say; "positive data acceptance" (schema-valid → 2xx) does not hold there.
SEMANTIC = {
    "POST /api/projects": "random bytes that satisfy format: binary are not videos (415/422)",
    "POST /api/projects/{project_id}/moments": "times must lie inside the source, end > start",
    "POST /api/projects/{project_id}/exports": "moment_ids must name moments of the project",
    "POST /api/captions/parse": "random bytes that satisfy format: binary are not subtitles",
    "PATCH /api/moments/{moment_id}/captions": "captions must lie inside the moment, words "
    "spell their caption's text in order",
    "POST /api/moments/{moment_id}/align": "the moment needs audio and words to align (422)",
}


@pytest.mark.parametrize("label", operations())
def test_api_conforms_to_its_schema_and_never_fails(api_schema: Any, label: str) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is routed but missing from /openapi.json"
    excluded = [positive_data_acceptance] if label in SEMANTIC else []
    failures: list[str] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        fuzz(operation, mode, excluded, failures)
    assert not failures, "\n\n".join(failures[:3])


def fuzz(operation: Any, mode: GenerationMode, excluded: list[Any], failures: list[str]) -> None:
    """``MAX_EXAMPLES`` cases of ``mode``, each sent and checked; failures collected."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        use_real_ids(case)
        try:
            case.call_and_validate(headers=AUTH, excluded_checks=excluded, timeout=30)
        except (AssertionError, FailureGroup) as exc:
            failures.append(f"{mode.value}: {exc}")

    try:
        run()
    except Unsatisfiable:
        assert mode == GenerationMode.NEGATIVE  # nothing to negate (no parameters, no body)


#: The stateful phase: scenarios of linked calls, each a few steps long, deterministic.
STATEFUL_SCENARIOS = 80
STATEFUL_STEPS = 12

#: Operations reached only through an ID another answer names; without links (before
#: /openapi.json had them) a stateful run had nothing to chain and they only saw 404s.
LINKED = [
    "GET /api/projects/{project_id}",
    "GET /api/projects/{project_id}/moments",
    "GET /api/projects/{project_id}/exports",
    "GET /api/projects/{project_id}/events",
    "POST /api/projects/{project_id}/moments",
    "GET /api/webhooks/{webhook_id}",
    "PATCH /api/webhooks/{webhook_id}",
    "POST /api/webhooks/{webhook_id}/test",
    "GET /api/webhooks/{webhook_id}/deliveries",
]


#: Bodies JSON Schema cannot describe well enough to be accepted by chance (a decodable
#: video, times inside it): sent instead of the generated ones, so chains start from them.
REAL_BODIES: dict[str, Any] = {
    "POST /api/projects": lambda video: {"files": {"file": ("clip.mp4", video)}},
    "POST /api/projects/{project_id}/moments": lambda video: {
        "json": {"start_s": 0.5, "end_s": 2.0}
    },
}


#: The stateful run's own user: nothing another test made shows in its list answers.
STATEFUL_AUTH = {"Authorization": f"Bearer {issue_token(SECRET, 'stateful-fuzz', ttl_s=3600)}"}


def wipe_account(base_url: str) -> None:
    """Delete every project (its moments and exports with it) and webhook endpoint the
    stateful user owns, so every scenario starts from the same empty account: schemathesis
    infers links from list answers, and state left over would make two runs of the same
    choices draw differently (hypothesis reports that as flaky data generation)."""
    with httpx.Client(base_url=base_url, headers=STATEFUL_AUTH, timeout=30) as client:
        for collection, key in (("/api/projects", "projects"), ("/api/webhooks", "webhooks")):
            for item in client.get(collection).raise_for_status().json()[key]:
                client.delete(f"{collection}/{item['id']}").raise_for_status()


def test_linked_calls_reach_past_the_404s_and_never_fail(
    api_schema: Any, live_server: str, media: Media
) -> None:
    """Schemathesis's stateful phase follows the document's links from answer to call:
    zero 5xx, no answer outside its schema, and operations that need a real ID get 2xx."""
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    failures: list[str] = []
    video = media.video.read_bytes()

    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            kwargs: dict[str, Any] = {"headers": STATEFUL_AUTH, "timeout": 30}
            positive = case.meta is None or case.meta.generation.mode.is_positive
            if positive and case.operation.label in REAL_BODIES:
                kwargs.update(REAL_BODIES[case.operation.label](video))
            return kwargs

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            statuses[case.operation.label][response.status_code] += 1

        def setup(self) -> None:
            wipe_account(live_server)

        def step(self, input: Any) -> Any:
            """A call that raises (a transport timeout on a loaded machine, a bug in the
            client) is recorded as a failure with its text; raised inside the state machine
            it would only surface as hypothesis's "inconsistent data" on replay."""
            try:
                return super().step(input)
            except Exception as exc:
                failures.append(f"{input.case.operation.label}: {type(exc).__name__}: {exc}"[:2000])
                return None

        def teardown(self) -> None:
            wipe_account(live_server)

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            label = case.operation.label
            try:
                case.validate_response(
                    response,
                    excluded_checks=[positive_data_acceptance] if label in SEMANTIC else [],
                    transport_kwargs=kwargs or None,
                    recorder=self.recorder,
                )
            except (AssertionError, FailureGroup) as exc:
                failures.append(f"{label}: {str(exc)[:2000]}")

    started = time.monotonic()
    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
    elapsed = time.monotonic() - started
    report = {label: dict(counts) for label, counts in sorted(statuses.items())}
    assert not failures, "\n\n".join(failures[:3])
    assert not [label for label, counts in statuses.items() if any(s >= 500 for s in counts)]
    reached = {label for label, counts in statuses.items() if any(200 <= s < 300 for s in counts)}
    assert sorted(set(LINKED) - reached) == [], json.dumps(report)
    print(f"stateful: {sum(map(sum, (c.values() for c in statuses.values())))} calls "
          f"in {elapsed:.1f} s; {report}")  # fmt: skip
