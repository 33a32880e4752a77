"""Tokens from a hosted identity provider: verified against its JWKS, keys rotated, refetch
rate-limited, and every kind of bad token refused (directly and through the API)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis.asyncio
from cryptography.hazmat.primitives import serialization

from server.adapters.auth import AuthError, AuthUnavailable, TokenVerifier, User, issue_token
from server.adapters.jwks import MIN_REFRESH_S, JwksCache, check_jwks_url
from server.settings import SettingsError
from tests.api.conftest import running_api
from tests.api.helpers import assert_error
from tests.conftest import SettingsFactory
from tests.security.conftest import JwksServer

ISSUER = "https://clerk.example.test"
AUDIENCE = "reelay"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def claims(sub: str = "alice", *, ttl_s: int = 600, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": sub, "iat": now, "exp": now + ttl_s, "iss": ISSUER, "aud": AUDIENCE, **extra}


def b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(jwks_server: JwksServer, settings: SettingsFactory, clock: Clock) -> TokenVerifier:
    app_settings = settings(jwks_url=jwks_server.url, jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    return TokenVerifier(app_settings, jwks=JwksCache(jwks_server.url, clock=clock))


async def test_rs256_and_es256_tokens_name_the_user(
    verifier: TokenVerifier, jwks_server: JwksServer
) -> None:
    idp = jwks_server.provider
    assert await verifier.verify(idp.token("rsa-1", claims("alice"))) == User("alice")
    user = await verifier.verify(idp.token("ec-1", claims("bob")))
    assert user == User("bob") and user.expires_at is not None
    assert idp.requests == 1  # one fetch serves every later token


async def test_rotated_key_is_picked_up_and_unknown_kids_refetch_at_most_once_a_minute(
    verifier: TokenVerifier, jwks_server: JwksServer, clock: Clock
) -> None:
    idp = jwks_server.provider
    await verifier.verify(idp.token("rsa-1", claims()))
    idp.add_rsa("rsa-2")  # the provider rotates: publishes a new kid and signs with it
    clock.now += MIN_REFRESH_S
    assert await verifier.verify(idp.token("rsa-2", claims())) == User("alice")
    assert idp.requests == 2
    # Made-up kids do not hammer the provider: no refetch inside the minute.
    for index in range(20):
        with pytest.raises(AuthError, match="unknown signing key"):
            await verifier.verify(_with_kid(idp.token("rsa-1", claims()), f"made-up-{index}"))
    idp.add_ec("ec-2")
    clock.now += MIN_REFRESH_S / 2
    with pytest.raises(AuthError, match="unknown signing key"):
        await verifier.verify(idp.token("ec-2", claims()))
    assert idp.requests == 2
    clock.now += MIN_REFRESH_S / 2
    assert await verifier.verify(idp.token("ec-2", claims())) == User("alice")
    assert idp.requests == 3


def _with_kid(token: str, kid: str) -> str:
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    return ".".join([b64({**decoded, "kid": kid}), payload, signature])


async def test_bad_tokens_are_refused(
    verifier: TokenVerifier, jwks_server: JwksServer, clock: Clock
) -> None:
    idp = jwks_server.provider
    idp.add_rsa("stranger", publish=False)
    good = idp.token("rsa-1", claims())
    header, payload, signature = good.split(".")
    public_pem = (
        idp.private["rsa-1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    refused = {
        "expired": idp.token("rsa-1", claims(ttl_s=-120)),
        "wrong aud": idp.token("rsa-1", claims(aud="someone-else")),
        "no aud": idp.token("rsa-1", {k: v for k, v in claims().items() if k != "aud"}),
        "wrong iss": idp.token("rsa-1", claims(iss="https://evil.example")),
        "no exp": idp.token("rsa-1", {k: v for k, v in claims().items() if k != "exp"}),
        "not yet valid": idp.token("rsa-1", claims(nbf=int(time.time()) + 600)),
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'rsa-1'})}.{payload}.",
        "tampered": f"{header}.{b64({**claims(), 'sub': 'mallory'})}.{signature}",
        "bad signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "other key, known kid": _with_kid(idp.token("stranger", claims()), "rsa-1"),
        "HS256 with the public key": _hs256_with_key(claims(), public_pem, "rsa-1"),
        "ES256 header on an RSA key": _with_header(good, alg="ES256"),
        "RS512": idp.token("rsa-1", claims(), alg="RS512"),
        "no kid": jwt.encode(claims(), idp.private["rsa-1"], algorithm="RS256"),
        "HS256 dev token": issue_token("test-secret-" + "x" * 32, "alice"),
        "huge": good + "A" * 10_000,
    }
    for name, token in refused.items():
        with pytest.raises(AuthError) as caught:
            await verifier.verify(token)
        assert not isinstance(caught.value, AuthUnavailable), name
    assert await verifier.verify(good) == User("alice")
    assert idp.requests == 1


def _hs256_with_key(payload: dict[str, Any], key: bytes, kid: str) -> str:
    """The classic key-confusion forgery: HMAC keyed with the provider's public key."""
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{b64(payload)}"
    digest = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def _with_header(token: str, **fields: Any) -> str:
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    return ".".join([b64({**decoded, **fields}), payload, signature])


async def test_unreachable_jwks_is_unavailable_not_unauthorized(
    settings: SettingsFactory, jwks_server: JwksServer
) -> None:
    jwks_server.provider.status = 500
    broken = TokenVerifier(settings(jwks_url=jwks_server.url))
    token = jwks_server.provider.token("rsa-1", claims())
    with pytest.raises(AuthUnavailable):
        await broken.verify(token)
    assert jwks_server.provider.requests == 1
    with pytest.raises(AuthUnavailable):  # still nothing loaded; no second fetch yet
        await broken.verify(token)
    assert jwks_server.provider.requests == 1


def test_jwks_url_must_be_https_unless_loopback() -> None:
    assert check_jwks_url("https://idp.example/.well-known/jwks.json")
    assert check_jwks_url("http://127.0.0.1:8080/jwks")
    for url in ["http://idp.example/jwks", "ftp://idp.example/jwks", "file:///etc/passwd"]:
        with pytest.raises(SettingsError):
            check_jwks_url(url)


async def test_api_accepts_provider_tokens_and_refuses_the_rest(
    settings: SettingsFactory,
    db: str,
    redis_client: redis.asyncio.Redis,
    tmp_path: Path,
    jwks_server: JwksServer,
) -> None:
    app_settings = settings(jwks_url=jwks_server.url, jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    idp = jwks_server.provider
    async with running_api(app_settings, redis_client, tmp_path / "no-static") as api:
        ok = await api.anon.get(
            "/api/projects", headers={"Authorization": f"Bearer {idp.token('ec-1', claims())}"}
        )
        assert ok.status_code == 200, ok.text
        for token in [
            idp.token("ec-1", claims(ttl_s=-120)),
            idp.token("ec-1", claims(aud="other")),
            issue_token(app_settings.jwt_secret, "alice"),
        ]:
            response = await api.anon.get(
                "/api/projects", headers={"Authorization": f"Bearer {token}"}
            )
            assert_error(response, 401, "unauthorized")
    idp.status = 503  # a cold start while the provider is down
    async with running_api(app_settings, redis_client, tmp_path / "no-static") as api:
        response = await api.anon.get(
            "/api/projects", headers={"Authorization": f"Bearer {idp.token('ec-1', claims())}"}
        )
        assert_error(response, 503, "auth_unavailable")
        assert response.headers["retry-after"]


async def test_claims_without_io_once_the_key_is_cached(
    verifier: TokenVerifier, jwks_server: JwksServer
) -> None:
    """The WebSocket reads ``exp`` through ``verify_claims`` right after ``verify``."""
    token = jwks_server.provider.token("ec-1", claims(ttl_s=300))
    with pytest.raises(AuthError, match="unknown signing key"):
        verifier.verify_claims(token)  # nothing fetched yet, and no I/O here
    user = await verifier.verify(token)
    assert verifier.verify_claims(token)["exp"] == user.expires_at
