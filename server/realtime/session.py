"""The ``/ws`` message protocol for one authenticated socket (API.md "Events", ``WS /ws``).

A ``Session`` reads client frames, keeps one ``Feed`` per subscribed project and writes
everything it sends through one bounded ``Outbox``. Problems with a frame answer
``{"type":"error","code","message"}`` and the socket lives on; only the protocol's close
codes end it (raised as ``Close``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from server.api.context import Services, owned
from server.auth import LEEWAY_S, AuthError, AuthUnavailable, User
from server.errors import NotFound
from server.models import Project
from server.realtime.feed import Feed
from server.realtime.hub import Hub, HubUnavailable
from server.realtime.outbox import Outbox

#: Longest project ID we look up (longer ones cannot exist).
MAX_PROJECT_ID = 200


@dataclass(frozen=True)
class Close(Exception):
    """End the socket with ``code`` (4001 auth, 4003 not yours, 4008 too slow, 1013 retry)."""

    code: int
    reason: str


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def error(code: str, message: str) -> str:
    return encode({"type": "error", "code": code, "message": message})


class WsSink:
    """A feed's output as ``/ws`` messages; events are spliced in without re-encoding."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def event(self, seq: int, raw: str) -> None:
        self._outbox.push('{"type":"event","event":' + raw + "}")

    def reset(self, project_id: str, last_seq: int) -> None:
        self._outbox.push(encode({"type": "reset", "project_id": project_id, "last_seq": last_seq}))

    def subscribed(self, project_id: str, last_seq: int) -> None:
        message = {"type": "subscribed", "project_id": project_id, "last_seq": last_seq}
        self._outbox.push(encode(message))

    async def room(self) -> int:
        return await self._outbox.room()


async def authenticate(services: Services, token: object) -> tuple[User, float]:
    """The token's user and the Unix time after which the socket must close (exp + leeway).

    Raises Close: 4001 for a bad token, 1013 (try again later) when the identity
    provider's keys cannot be fetched — the token may well be fine.
    """
    if not isinstance(token, str) or not token:
        raise Close(4001, "auth needs a token")
    try:
        user = await services.verifier.verify(token)
    except AuthUnavailable as exc:
        raise Close(1013, "identity provider unavailable; reconnect later") from exc
    except AuthError as exc:
        raise Close(4001, exc.message[:120]) from exc
    if user.expires_at is None:
        raise Close(4001, "token has no expiry")
    return user, user.expires_at + LEEWAY_S


class Session:
    """One socket's state after its first ``auth``: user, token deadline and feeds."""

    def __init__(
        self, services: Services, hub: Hub, outbox: Outbox, user: User, deadline: float
    ) -> None:
        self._services = services
        self._hub = hub
        self.outbox = outbox
        self._sink = WsSink(outbox)
        self.user = user
        self.deadline = deadline
        self.feeds: dict[str, Feed] = {}

    async def handle(self, text: str) -> None:
        """Act on one client frame; raises Close when the socket must end."""
        if len(text.encode()) > self._services.settings.ws_max_message_bytes:
            limit = self._services.settings.ws_max_message_bytes
            self.outbox.push(error("message_too_large", f"frames are limited to {limit} bytes"))
            return
        try:
            message = json.loads(text)
        except ValueError:
            self.outbox.push(error("bad_json", "frames must be JSON text"))
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            self.outbox.push(error("bad_message", "a message is an object with a string type"))
            return
        kind = message["type"]
        if kind == "ping":
            self.outbox.push(encode({"type": "pong"}))
        elif kind == "pong":
            return
        elif kind == "auth":
            await self._reauth(message.get("token"))
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "unsubscribe":
            await self._unsubscribe(message)
        else:
            self.outbox.push(error("unknown_type", f"unknown message type {kind[:40]!r}"))

    async def close(self) -> None:
        """Stop every feed and release the hub's channels."""
        for project_id, feed in list(self.feeds.items()):
            feed.close()
            await self._hub.unwatch(project_id, feed)
        self.feeds.clear()

    async def _reauth(self, token: object) -> None:
        user, deadline = await authenticate(self._services, token)
        if user.id != self.user.id:
            raise Close(4001, "token is for another user")
        self.deadline = max(self.deadline, deadline)
        self.outbox.push(encode({"type": "ready"}))

    async def _subscribe(self, message: dict[str, Any]) -> None:
        project_id = message.get("project_id")
        since = message.get("since", 0)
        if not isinstance(project_id, str) or not 0 < len(project_id) <= MAX_PROJECT_ID:
            self.outbox.push(error("bad_message", "subscribe needs a project_id"))
            return
        if isinstance(since, bool) or not isinstance(since, int) or not 0 <= since < 2**53:
            self.outbox.push(error("bad_message", "since must be an integer >= 0"))
            return
        limit = self._services.settings.ws_max_subscriptions
        if project_id not in self.feeds and len(self.feeds) >= limit:
            self.outbox.push(error("too_many_subscriptions", f"at most {limit} per socket"))
            return
        try:
            await owned(Project, project_id, self.user)
        except NotFound as exc:
            # The reason names the project, so a client knows which subscription to drop.
            raise Close(4003, f"not your project: {project_id[:100]}") from exc
        await self._drop(project_id)
        feed = Feed(project_id, since, self._services.events, self._sink)
        self.feeds[project_id] = feed
        try:
            await self._hub.watch(project_id, feed)
        except HubUnavailable as exc:
            self.feeds.pop(project_id, None)
            raise Close(1013, "event bus unavailable; reconnect later") from exc
        feed.start()

    async def _unsubscribe(self, message: dict[str, Any]) -> None:
        project_id = message.get("project_id")
        if not isinstance(project_id, str) or project_id not in self.feeds:
            self.outbox.push(error("not_subscribed", "no subscription to that project"))
            return
        await self._drop(project_id)
        self.outbox.push(encode({"type": "unsubscribed", "project_id": project_id}))

    async def _drop(self, project_id: str) -> None:
        feed = self.feeds.pop(project_id, None)
        if feed is not None:
            feed.close()
            await self._hub.unwatch(project_id, feed)


def seconds_left(deadline: float) -> float:
    """Seconds until the Unix time ``deadline`` (negative once past)."""
    return deadline - time.time()
