"""The ``/ws`` message protocol for one authenticated socket (docs/api.md "Events", ``WS /ws``).

A ``Session`` reads client frames, keeps one ``Feed`` per subscribed project and writes
everything it sends through one bounded ``Outbox``. Problems with a frame answer
``{"type":"error","code","message"}`` and the socket lives on; only the protocol's close
codes end it (raised as ``Close``). Replies a client can ask for in bursts (pongs, the
``rate_limited`` error) are coalesced in the outbox, so a client's own frames can never
make its socket overflow (4008).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from server.adapters.auth import LEEWAY_S, AuthError, AuthUnavailable, User
from server.clock import now_s
from server.domain.models import Project
from server.errors import NotFound
from server.http.access import owned
from server.http.services import Services
from server.realtime.feed import Feed
from server.realtime.frames import BadFrame, encode, error, parse
from server.realtime.hub import Hub, HubUnavailable
from server.realtime.outbox import Outbox
from server.text import is_valid_text

#: Longest project ID we look up (longer ones cannot exist).
MAX_PROJECT_ID = 200

#: What a project ID can be made of (``new_id``: a prefix, ``_``, URL-safe base64); any
#: other string cannot name a project, so it is never sent to the database.
PROJECT_ID = re.compile(r"[A-Za-z0-9_-]+")

#: Pongs answered per second on average, and in one burst; pings beyond get the
#: ``rate_limited`` error instead (coalesced like pongs).
PINGS_PER_S = 10.0
PING_BURST = 20

PONG = encode({"type": "pong"})
PING_RATE_LIMITED = error(
    "rate_limited", f"at most {PINGS_PER_S:g} pings per second are answered; slow down"
)


@dataclass(frozen=True)
class Close(Exception):
    """End the socket with ``code`` (4001 auth, 4003 not yours, 4008 too slow, 1013 retry)."""

    code: int
    reason: str


class TokenBucket:
    """``rate`` actions per second on average, ``burst`` at once; ``clock`` in seconds."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> bool:
        """Whether one more action is allowed now (and count it)."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


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
    if not is_valid_text(user.id):
        raise Close(4001, "the token's subject is not valid Unicode text")
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
        self._pings = TokenBucket(PINGS_PER_S, PING_BURST)

    async def handle(self, frame: Mapping[str, Any]) -> None:
        """Act on one client frame (an ASGI ``websocket.receive`` message); raises Close
        when the socket must end."""
        try:
            message = parse(frame, self._services.settings.ws_max_message_bytes)
        except BadFrame as bad:
            self.outbox.push(error(bad.code, bad.message))
            return
        kind = message["type"]
        if kind == "ping":
            self.outbox.push_once(PONG if self._pings.take() else PING_RATE_LIMITED)
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
        # The reason names the project, so a client knows which subscription to drop.
        not_yours = Close(4003, f"not your project: {project_id[:100]}")
        if PROJECT_ID.fullmatch(project_id) is None:
            raise not_yours  # cannot exist: no query with text the database may refuse
        try:
            await owned(Project, project_id, self.user)
        except NotFound as exc:
            raise not_yours from exc
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
    return deadline - now_s()
