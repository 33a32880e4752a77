"""What the operator on call reads: /metrics, request IDs, JSON log lines with IDs."""

from __future__ import annotations

import json
import logging
import sys

from redis import Redis as SyncRedis

from server.domain.events import EventLog
from server.ops.logging_redaction import install as install_log_redaction
from server.ops.logs import JsonFormatter, configure_logging, export_id_var, request_id_var
from server.ops.metrics import record_chunk_render
from tests.api.conftest import Api, Media


def _sample(text: str, name: str, labels: str = "") -> float:
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    raise AssertionError(f"{prefix!r} not in /metrics:\n{text}")


async def test_metrics_report_exports_queues_chunks_events_and_http(api: Api, media: Media) -> None:
    with media.video.open("rb") as handle:
        project = (
            await api.alice.post("/api/projects", files={"file": ("v.mp4", handle, "video/mp4")})
        ).json()
    moment = (
        await api.alice.post(
            f"/api/projects/{project['id']}/moments", json={"start_s": 0.5, "end_s": 1.5}
        )
    ).json()
    await api.alice.post(
        f"/api/projects/{project['id']}/exports", json={"moment_ids": [moment["id"]]}
    )
    assert api.settings.redis_url is not None
    sync = SyncRedis.from_url(api.settings.redis_url)
    record_chunk_render(sync, 1.5)
    record_chunk_render(sync, 0.5)
    sync.close()

    response = await api.anon.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert _sample(text, "reelay_exports", 'status="queued"') == 1
    assert _sample(text, "reelay_exports", 'status="completed"') == 0
    assert _sample(text, "reelay_queue_depth", 'queue="exports"') == 1  # the plan message
    assert _sample(text, "reelay_chunk_render_seconds_total") == 2.0
    assert _sample(text, "reelay_chunks_rendered_total") == 2
    assert _sample(text, "reelay_events_published_total") >= 1  # export.queued
    assert _sample(text, "reelay_webhook_attempts", 'outcome="success"') == 0
    assert _sample(text, "reelay_webhook_attempts", 'outcome="failure"') == 0
    assert _sample(text, "reelay_sockets") == 0
    route = 'method="POST",route="/api/projects/{project_id}/exports",status="202"'
    assert _sample(text, "reelay_http_request_seconds_count", route) == 1
    assert project["id"] not in text, "IDs must never become label values"


async def test_events_published_counter_counts_appends(api: Api) -> None:
    log = EventLog(api.redis, maxlen=100, max_age_s=3600)
    for _ in range(3):
        await log.append("prj_x", "export.queued", export_id="exp_x")
    text = (await api.anon.get("/metrics")).text
    assert _sample(text, "reelay_events_published_total") == 3


async def test_every_response_carries_a_request_id_and_honours_a_sane_one(api: Api) -> None:
    generated = await api.anon.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = await api.anon.get("/healthz", headers={"X-Request-ID": "lb-1234.abc"})
    assert echoed.headers["x-request-id"] == "lb-1234.abc"
    hostile = await api.anon.get("/healthz", headers={"X-Request-ID": "x" * 65})
    assert hostile.headers["x-request-id"] != "x" * 65


def test_json_log_lines_carry_request_and_export_ids() -> None:
    record = logging.LogRecord(
        "reelay.worker", logging.INFO, __file__, 1, "chunk %d done", (3,), None
    )
    handler = logging.StreamHandler()
    logger = logging.getLogger("reelay.test-json")
    logger.addHandler(handler)
    everything = [logging.getLogger(), *map(logging.getLogger, logging.root.manager.loggerDict)]
    saved = [(h, h.formatter, list(h.filters)) for lg in everything for h in lg.handlers]
    request_token = request_id_var.set("req-1")
    export_token = export_id_var.set("exp_1")
    try:
        configure_logging("json", "info")
        assert isinstance(handler.formatter, JsonFormatter)
        for log_filter in handler.filters:
            log_filter.filter(record)
        line = json.loads(handler.formatter.format(record))
    finally:
        request_id_var.reset(request_token)
        export_id_var.reset(export_token)
        logger.removeHandler(handler)
        for h, formatter, filters in saved:  # leave the test session's logging as it was
            h.setFormatter(formatter)
            h.filters = filters
    assert line["message"] == "chunk 3 done"
    assert line["level"] == "info" and line["logger"] == "reelay.worker"
    assert line["request_id"] == "req-1" and line["export_id"] == "exp_1"


def test_json_lines_keep_redacted_tracebacks_redacted() -> None:
    install_log_redaction()
    secret = "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"
    try:
        raise ValueError(f"bad secret {secret}")
    except ValueError:
        record = logging.getLogger("reelay.x").makeRecord(
            "reelay.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    assert secret not in JsonFormatter().format(record)
