"""A token's ``sub`` becomes ``user_id`` in every row: one no row can hold (longer than the
column, NUL, a lone surrogate) is refused when the token is verified — 401
``invalid_subject`` over HTTP, close 4001 on the WebSocket, and ``reelay token`` refuses to
issue it — while the longest one allowed works end to end on both databases."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.adapters.auth import MAX_USER_ID_CHARS, InvalidSubject, TokenVerifier, issue_token
from server.adapters.jwks import JwksCache
from server.commands import dev as dev_command
from server.commands import token as token_command
from server.domain.models import WebhookEndpoint
from tests.api.conftest import Api
from tests.api.helpers import assert_error
from tests.conftest import RedisServer, SettingsFactory
from tests.realtime.servers import JWT_SECRET, WebServer
from tests.security.conftest import JwksServer

LONGEST = "u" * MAX_USER_ID_CHARS
TOO_LONG = "u" * (MAX_USER_ID_CHARS + 1)
UNSTORABLE = [TOO_LONG, "é" * (MAX_USER_ID_CHARS + 1), "ali\x00ce", "ali\udc00ce"]


def forged(secret: str, sub: str, ttl_s: int = 600) -> str:
    """A correctly signed HS256 token for any ``sub``, as another issuer could mint it."""
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + ttl_s}, secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("sub", UNSTORABLE, ids=["too-long", "too-long-2-byte", "nul", "surrogate"])
async def test_http_refuses_a_subject_no_row_can_hold(api: Api, sub: str) -> None:
    headers = bearer(forged(api.settings.jwt_secret, sub))
    for method, path, body in [
        ("GET", "/api/projects", None),
        ("POST", "/api/webhooks", {"url": "http://127.0.0.1:9/hook"}),
    ]:
        response = await api.anon.request(method, path, json=body, headers=headers)
        message = assert_error(response, 401, "invalid_subject")
        assert response.headers["www-authenticate"] == "Bearer"
        assert len(message) < 200  # the subject itself is never echoed
        if len(sub) > MAX_USER_ID_CHARS:
            assert str(MAX_USER_ID_CHARS) in message and str(len(sub)) in message
    assert await WebhookEndpoint.all().count() == 0


async def test_the_longest_subject_is_stored_and_served(api: Api) -> None:
    headers = bearer(forged(api.settings.jwt_secret, LONGEST))
    created = await api.anon.post(
        "/api/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=headers
    )
    assert created.status_code == 201, created.text
    listed = await api.anon.get("/api/webhooks", headers=headers)
    assert [w["id"] for w in listed.json()["webhooks"]] == [created.json()["id"]]
    assert (await WebhookEndpoint.get(id=created.json()["id"])).user_id == LONGEST


async def test_jwks_tokens_follow_the_same_rule(
    jwks_server: JwksServer, settings: SettingsFactory
) -> None:
    verifier = TokenVerifier(settings(jwks_url=jwks_server.url), jwks=JwksCache(jwks_server.url))
    now = int(time.time())

    def token(sub: str) -> str:
        return jwks_server.provider.token("rsa-1", {"sub": sub, "iat": now, "exp": now + 600})

    assert (await verifier.verify(token(LONGEST))).id == LONGEST
    with pytest.raises(InvalidSubject, match=str(MAX_USER_ID_CHARS)):
        await verifier.verify(token(TOO_LONG))


@pytest.fixture(scope="module")
def ws_server(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebServer]:
    redis_server.start()
    tmp = tmp_path_factory.mktemp("identity-ws")
    server = WebServer(tmp, redis_url=redis_server.url, database_url=f"sqlite://{tmp / 'db'}")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def ws_auth(server: WebServer, token: str) -> dict[str, Any]:
    """The first answer to an ``auth`` frame, or the close it caused as
    ``{"closed": code, "reason": reason}``."""
    async with connect(server.ws_url, open_timeout=10) as socket:
        await socket.send(json.dumps({"type": "auth", "token": token}))
        try:
            answer: dict[str, Any] = json.loads(await socket.recv(decode=True))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            return {"closed": closed.rcvd.code, "reason": closed.rcvd.reason}
        return answer


async def test_websocket_auth_refuses_a_subject_no_row_can_hold(ws_server: WebServer) -> None:
    for sub in UNSTORABLE:
        answer = await ws_auth(ws_server, forged(JWT_SECRET, sub))
        assert answer.get("closed") == 4001, (sub, answer)
        assert "subject" in answer["reason"]
        if len(sub) > MAX_USER_ID_CHARS:
            assert str(MAX_USER_ID_CHARS) in answer["reason"]
    assert await ws_auth(ws_server, forged(JWT_SECRET, LONGEST)) == {"type": "ready"}
    assert ws_server.process is not None and ws_server.process.poll() is None
    assert "Traceback" not in ws_server.log()


def test_reelay_token_refuses_what_the_server_would(capsys: pytest.CaptureFixture[str]) -> None:
    for user in UNSTORABLE:
        with pytest.raises(ValueError):
            issue_token("secret", user)
        assert token_command.run(argparse.Namespace(user=user, ttl=600)) == 2
        assert "--user" in capsys.readouterr().out
    assert token_command.run(argparse.Namespace(user=LONGEST, ttl=600)) == 0
    printed = capsys.readouterr().out.strip()
    assert jwt.decode(printed, options={"verify_signature": False})["sub"] == LONGEST


def test_reelay_dev_refuses_such_a_user_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REELAY_DATA_DIR", str(tmp_path / "data"))
    args = argparse.Namespace(host=None, port=None, workers=0, user="u" * (MAX_USER_ID_CHARS + 1))
    assert dev_command.run(args) == 2
    assert "--user" in capsys.readouterr().out
    assert not (tmp_path / "data").exists()  # no Redis, no database, no folder
