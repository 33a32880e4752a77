"""Notification emails: an export that asked (``notify_email``) hears how it ended.

Sent over SMTP with ``aiosmtplib`` (``REELAY_SMTP_URL``: ``smtp://user:pass@host:port``
upgrades with STARTTLS when the server offers it, ``smtps://`` is TLS from the start).
With no SMTP configured — the embedded default — each message is written as an ``.eml``
file under ``data_dir/outbox`` and its path logged. SMTP errors raise, so Dramatiq's
retries send again later; exports never wait on any of this. Runs only in ``reelay
notifier`` processes (queue ``email``). The address is checked again here
(``server/email_address.py``): one that cannot be delivered is logged and skipped, never
retried, and never written into a header.
"""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib
import dramatiq

from server.domain.email_address import InvalidEmail, deliverable_address
from server.domain.events import Event
from server.domain.models import Export, Moment
from server.domain.storage_keys import video_url
from server.settings import Settings
from workers.actors import RetryPolicy, declare_actor
from workers.runtime import current_runtime

logger = logging.getLogger("reelay.email")

SMTP_TIMEOUT_S = 30.0


def export_link(settings: Settings, export: Export) -> str:
    """The page showing the export (the project's view, with the export picked)."""
    base = settings.resolved_public_url
    return f"{base}/?project={export.project_id}&export={export.id}"


def compose(settings: Settings, event: Event, export: Export, title: str, to: str) -> EmailMessage:
    """The message for ``event`` (``export.completed`` or ``export.failed``) to ``to``, an
    address ``deliverable_address`` has checked."""
    name = title or f"export {export.id}"
    link = export_link(settings, export)
    base = settings.resolved_public_url
    if event.type == "export.completed":
        subject = f"Your clip is ready: {name}"
        lines = [
            f"Your clip “{name}” finished rendering.",
            "",
            f"{export.aspect_ratio}, {export.width}×{export.height}, "
            f"{(export.duration_s or 0):.1f} s, {(export.size_bytes or 0) / 1e6:.1f} MB",
            "",
            f"Open it: {link}",
            f"Download (signed in): {base}{video_url(export.id)}",
        ]
    else:
        subject = f"Your clip failed: {name}"
        lines = [
            f"Your clip “{name}” could not be rendered.",
            "",
            f"{export.error_code or 'error'}: {export.error_message or 'no details'}",
            "",
            f"Open it (you can retry from there): {link}",
        ]
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(idstring=event.id, domain="reelay")
    message.set_content("\n".join(lines) + "\n")
    return message


async def send_smtp(smtp_url: str, message: EmailMessage) -> None:
    """Send through the server in ``smtp_url``; raises aiosmtplib/OS errors to retry on."""
    parts = urlsplit(smtp_url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ValueError("REELAY_SMTP_URL must look like smtp://user:pass@host:port")
    implicit_tls = parts.scheme == "smtps"
    await aiosmtplib.send(
        message,
        hostname=parts.hostname,
        port=parts.port or (465 if implicit_tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=implicit_tls,
        start_tls=False if implicit_tls else None,  # None: STARTTLS when offered
        timeout=SMTP_TIMEOUT_S,
    )


def write_eml(outbox: Path, name: str, message: EmailMessage) -> Path:
    """Store ``message`` as ``outbox/name.eml`` (rewritten, not duplicated, on a retry)."""
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"{name}.eml"
    partial = path.with_suffix(".eml.part")
    partial.write_bytes(bytes(message))
    partial.replace(path)
    return path


async def email_export_result(settings: Settings, event: Event) -> Path | None:
    """Tell the export's ``notify_email`` how it ended; the .eml path when no SMTP is set.

    Does nothing when the export is gone, no longer asks for an email, or asks for one at
    an address that cannot be delivered to (logged; a retry would not change that).
    """
    export = await Export.get_or_none(id=event.export_id)
    if export is None or not export.notify_email:
        return None
    try:
        to = deliverable_address(export.notify_email)
    except InvalidEmail as exc:
        logger.info("email about %s not sent: its address is not deliverable (%s)", export.id, exc)
        return None
    moment = await Moment.get_or_none(id=export.moment_id)
    message = compose(settings, event, export, moment.title if moment else "", to)
    if settings.smtp_url:
        await send_smtp(settings.smtp_url, message)
        logger.info("email about %s sent to %s", export.id, to)
        return None
    outbox = settings.data_dir / "outbox"
    path = await asyncio.to_thread(write_eml, outbox, f"{export.id}-{event.id}", message)
    logger.info("no REELAY_SMTP_URL: email about %s written to %s", export.id, path)
    return path


def send_export_email(event_json: str) -> None:
    """The actor: email the result of the export in ``event_json``."""
    rt = current_runtime()
    rt.run(email_export_result(rt.settings, Event.from_json(event_json)))


def declare_actors(broker: dramatiq.Broker) -> None:
    """Register the email actor on ``broker``; retried with backoff up to about a day."""
    policy = RetryPolicy(
        time_limit_ms=120_000, max_retries=12, min_backoff_ms=5_000, max_backoff_ms=3_600_000
    )
    declare_actor(broker, "send_export_email", send_export_email, policy)
