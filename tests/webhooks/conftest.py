"""Webhook test fixtures: a loopback receiver, a recording enqueuer, an owner's project.

Every request in these tests goes to 127.0.0.1; SSRF refusals are proved at the guard,
with resolvers injected so no name is ever looked up.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio

from server.adapters.delivery.signing import new_secret
from server.adapters.delivery.slots import DeliverySlots
from server.adapters.queue import Enqueuer
from server.domain.models import Project, WebhookEndpoint, new_id
from tests.webhooks.receiver import Receiver, start_receiver


@dataclass(frozen=True)
class Sent:
    actor: str
    args: tuple[Any, ...]
    delay_ms: int | None


class RecordingEnqueuer(Enqueuer):
    """Keeps every message instead of sending it, so a test runs the next step itself."""

    def __init__(self) -> None:
        super().__init__(broker=None)  # type: ignore[arg-type]
        self.sent: list[Sent] = []

    def send_now(self, actor_name: str, *args: Any, delay_ms: int | None = None) -> None:
        self.sent.append(Sent(actor_name, args, delay_ms))

    def of(self, actor: str) -> list[Sent]:
        return [s for s in self.sent if s.actor == actor]


@pytest.fixture
def enqueuer() -> RecordingEnqueuer:
    return RecordingEnqueuer()


@pytest.fixture
def slots(redis_client: redis.asyncio.Redis) -> DeliverySlots:
    """The delivery caps on the test Redis, roomy enough never to bind unless a test says."""
    return DeliverySlots(redis_client, per_endpoint=4, per_user=16, lease_s=30.0)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = start_receiver()
    yield running
    running.open_gate()
    running.server.shutdown()
    running.server.server_close()


def resolver_for(table: dict[str, Sequence[str]]) -> Any:
    """A resolver answering from ``table`` (names unknown to it fail like DNS would)."""

    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise OSError(f"no such host {host}")
        return table[host]

    return resolve


async def make_project(user: str) -> Project:
    return await Project.create(
        id=new_id("prj"),
        user_id=user,
        name="clip",
        source_key="sources/x.mp4",
        duration_s=3.0,
        width=320,
        height=240,
        fps=30.0,
        has_audio=True,
        size_bytes=1000,
    )


async def make_endpoint(user: str, url: str, events: list[str] | None = None) -> WebhookEndpoint:
    return await WebhookEndpoint.create(
        id=new_id("whk"),
        user_id=user,
        url=url,
        events=events or ["export.completed", "export.failed", "batch.completed"],
        secret=new_secret(),
    )
