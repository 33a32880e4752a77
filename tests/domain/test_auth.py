"""HS256 token verification: what passes, and every way a token is refused."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest

from server.adapters.auth import AuthError, TokenVerifier, User, issue_token
from tests.conftest import SettingsFactory

SECRET = "test-secret-" + "x" * 32
REPO = Path(__file__).resolve().parents[2]


def b64(obj: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.fixture
def verifier(settings: SettingsFactory) -> TokenVerifier:
    return TokenVerifier(settings(jwt_secret=SECRET))


async def test_valid_token_names_the_user(verifier: TokenVerifier) -> None:
    assert await verifier.verify(issue_token(SECRET, "alice")) == User(id="alice")


async def test_expired_token_is_refused_after_the_leeway(verifier: TokenVerifier) -> None:
    just_expired = issue_token(SECRET, "alice", ttl_s=600, now=time.time() - 610)
    assert await verifier.verify(just_expired) == User(id="alice")  # within 30 s leeway
    expired = issue_token(SECRET, "alice", ttl_s=600, now=time.time() - 700)
    with pytest.raises(AuthError, match="expired") as caught:
        await verifier.verify(expired)
    assert caught.value.code == "unauthorized"


async def test_tampered_token_is_refused(verifier: TokenVerifier) -> None:
    header, _, signature = issue_token(SECRET, "alice").split(".")
    forged = f"{header}.{b64({'sub': 'mallory', 'exp': int(time.time()) + 600})}.{signature}"
    with pytest.raises(AuthError, match="invalid"):
        await verifier.verify(forged)


async def test_wrong_secret_is_refused(verifier: TokenVerifier) -> None:
    with pytest.raises(AuthError):
        await verifier.verify(issue_token("another-secret-" + "y" * 32, "alice"))


async def test_alg_none_is_refused(verifier: TokenVerifier) -> None:
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'sub': 'alice', 'exp': 2**40})}."
    with pytest.raises(AuthError, match="algorithm"):
        await verifier.verify(unsigned)


async def test_other_algorithms_are_refused(verifier: TokenVerifier) -> None:
    hs512 = jwt.encode({"sub": "alice", "exp": 2**40}, SECRET + "pad" * 20, algorithm="HS512")
    with pytest.raises(AuthError, match="algorithm"):
        await verifier.verify(hs512)


@pytest.mark.parametrize(
    "claims", [{"exp": 2**40}, {"sub": "", "exp": 2**40}, {"sub": 42, "exp": 2**40}, {"sub": "a"}]
)
async def test_missing_or_bad_sub_and_missing_exp_are_refused(
    verifier: TokenVerifier, claims: dict[str, object]
) -> None:
    with pytest.raises(AuthError):
        await verifier.verify(jwt.encode(claims, SECRET, algorithm="HS256"))


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c"])
async def test_garbage_is_refused(verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(AuthError):
        await verifier.verify(token)


async def test_issuer_and_audience_are_checked_when_configured(settings: SettingsFactory) -> None:
    verifier = TokenVerifier(settings(jwt_secret=SECRET, jwt_issuer="iss", jwt_audience="aud"))
    good = issue_token(SECRET, "alice", issuer="iss", audience="aud")
    assert await verifier.verify(good) == User(id="alice")
    for token in [
        issue_token(SECRET, "alice"),
        issue_token(SECRET, "alice", issuer="other", audience="aud"),
        issue_token(SECRET, "alice", issuer="iss", audience="other"),
    ]:
        with pytest.raises(AuthError):
            await verifier.verify(token)


def test_token_command_prints_a_token_for_the_configured_secret(tmp_path: Path) -> None:
    env = {"REELAY_JWT_SECRET": SECRET, "REELAY_DATA_DIR": str(tmp_path), "PATH": "/usr/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "token", "--user", "alice", "--ttl", "60"],
        cwd=REPO, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    claims = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice"
    assert claims["exp"] - claims["iat"] == 60
