"""Notification emails through a real SMTP server (aiosmtpd on 127.0.0.1), and the
``.eml`` outbox when no SMTP server is configured."""

from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from server.domain.events import Event, format_ts, new_event_id
from server.domain.models import Batch, Export, Moment, new_id
from tests.conftest import SettingsFactory, free_port
from tests.webhooks.conftest import make_project
from workers.email_actor import email_export_result

PUBLIC = "https://clips.example.com"


@dataclass
class Inbox:
    """What the SMTP server accepted: (envelope sender, recipients, parsed message)."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


def _accept_alice(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alice", b"s3cr:t")
    return AuthResult(success=ok)


@pytest.fixture
def smtp() -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_accept_alice,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    yield f"smtp://alice:s3cr%3At@127.0.0.1:{port}", inbox
    controller.stop()


async def finished_export(
    *, completed: bool, title: str = "Best goal", notify_email: str = "me@example.com"
) -> tuple[Export, Event]:
    project = await make_project("alice")
    moment = await Moment.create(
        id=new_id("mom"), user_id="alice", project=project, start_s=0.0, end_s=2.0, title=title
    )
    batch = await Batch.create(id=new_id("bat"), user_id="alice", project=project)
    export = await Export.create(
        id=new_id("exp"),
        user_id="alice",
        project=project,
        moment=moment,
        batch=batch,
        aspect_ratio="9:16",
        resolution="720p",
        notify_email=notify_email,
        status="completed" if completed else "failed",
        width=720,
        height=1280,
        duration_s=2.0,
        size_bytes=1_500_000,
        error_code=None if completed else "source_missing",
        error_message=None if completed else "the source video is gone",
    )
    event = Event(
        id=new_event_id(),
        seq=9,
        type="export.completed" if completed else "export.failed",
        project_id=project.id,
        export_id=export.id,
        batch_id=batch.id,
        ts=format_ts(export.created_at),
        data={},
    )
    return export, event


async def test_a_completed_export_is_emailed_over_smtp(
    db: str, settings: SettingsFactory, smtp: tuple[str, Inbox]
) -> None:
    url, inbox = smtp
    config = settings(smtp_url=url, smtp_from="reelay <clips@example.com>", public_url=PUBLIC)
    export, event = await finished_export(completed=True)
    assert await email_export_result(config, event) is None
    [(sender, recipients, message)] = inbox.messages
    assert sender == "clips@example.com" and recipients == ["me@example.com"]
    assert message["To"] == "me@example.com"
    assert message["Subject"] == "Your clip is ready: Best goal"
    assert event.id in message["Message-ID"]
    body = message.get_content()
    assert f"{PUBLIC}/?project={export.project_id}&export={export.id}" in body
    assert f"{PUBLIC}/api/exports/{export.id}/video" in body
    assert "720×1280" in body
    assert not (config.data_dir / "outbox").exists()


async def test_a_failed_export_is_emailed_with_the_reason(
    db: str, settings: SettingsFactory, smtp: tuple[str, Inbox]
) -> None:
    url, inbox = smtp
    export, event = await finished_export(completed=False)
    await email_export_result(settings(smtp_url=url, public_url=PUBLIC), event)
    [(_, recipients, message)] = inbox.messages
    assert recipients == ["me@example.com"]
    assert message["Subject"] == "Your clip failed: Best goal"
    body = message.get_content()
    assert "source_missing: the source video is gone" in body
    assert f"export={export.id}" in body


async def test_without_smtp_the_message_lands_in_the_outbox(
    db: str, settings: SettingsFactory
) -> None:
    config = settings(public_url=PUBLIC)
    export, event = await finished_export(completed=True)
    path = await email_export_result(config, event)
    assert path is not None and path.parent == config.data_dir / "outbox"
    assert path.suffix == ".eml"
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == "me@example.com"
    assert message["Subject"] == "Your clip is ready: Best goal"
    assert f"export={export.id}" in message.get_content()
    again = await email_export_result(config, event)  # a retried message: same file
    assert again == path and len(list(path.parent.iterdir())) == 1


async def test_an_unreachable_smtp_server_raises_so_the_actor_retries(
    db: str, settings: SettingsFactory
) -> None:
    import aiosmtplib

    _, event = await finished_export(completed=True)
    nobody = f"smtp://127.0.0.1:{free_port()}"
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await email_export_result(settings(smtp_url=nobody), event)


async def test_no_email_when_the_export_did_not_ask(db: str, settings: SettingsFactory) -> None:
    export, event = await finished_export(completed=True)
    await Export.filter(id=export.id).update(notify_email=None)
    assert await email_export_result(settings(), event) is None
    assert not (settings().data_dir / "outbox").exists()


async def test_an_international_domain_is_sent_as_punycode(
    db: str, settings: SettingsFactory, smtp: tuple[str, Inbox]
) -> None:
    """A row stored before addresses were normalised still reaches the IDNA domain."""
    url, inbox = smtp
    _, event = await finished_export(completed=True, notify_email="me@bücher.example")
    await email_export_result(settings(smtp_url=url), event)
    [(_, recipients, message)] = inbox.messages
    assert recipients == ["me@xn--bcher-kva.example"]
    assert message["To"] == "me@xn--bcher-kva.example"


@pytest.mark.parametrize(
    "stored",
    ["josé@example.com", "me@example.com\r\nBcc: evil@example.com", "a\x00b@example.com"],
    ids=["non-ascii local part", "crlf", "nul"],
)
async def test_a_stored_undeliverable_address_is_skipped_quietly(
    stored: str,
    db: str,
    settings: SettingsFactory,
    smtp: tuple[str, Inbox],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Rows written under the old hand-made check: no header injection, no retry loop."""
    if "\x00" in stored and db.startswith("postgres"):
        pytest.skip("PostgreSQL text cannot hold NUL: no such row can exist there")
    url, inbox = smtp
    caplog.set_level(logging.INFO, logger="reelay.email")
    _, event = await finished_export(completed=True, notify_email=stored)
    assert await email_export_result(settings(smtp_url=url), event) is None
    assert inbox.messages == []
    assert any("not deliverable" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
