"""Who is calling: HS256 JWTs whose ``sub`` is the user (API.md "Auth").

Only HS256 with ``REELAY_JWT_SECRET`` is accepted here; ``alg: none`` and every other
algorithm are refused. ``verify`` is async because JWKS verification will fetch keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from server.settings import Settings

ALGORITHM = "HS256"
#: Clock skew tolerated between the token issuer and us, in seconds.
LEEWAY_S = 30


@dataclass(frozen=True)
class User:
    """The caller; ``id`` is the token's ``sub``."""

    id: str


class AuthError(Exception):
    """A missing, malformed, expired or otherwise unacceptable token (→ 401 / close 4001)."""

    code = "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def issue_token(
    secret: str,
    user_id: str,
    *,
    ttl_s: int = 600,
    issuer: str | None = None,
    audience: str | None = None,
    now: float | None = None,
) -> str:
    """An HS256 token for ``user_id`` valid ``ttl_s`` seconds from ``now`` (default: now)."""
    issued_at = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"sub": user_id, "iat": issued_at, "exp": issued_at + ttl_s}
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class TokenVerifier:
    """Checks signature, expiry (with ``LEEWAY_S``), and ``iss``/``aud`` when configured."""

    def __init__(self, settings: Settings) -> None:
        self._secret = settings.jwt_secret
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience

    async def verify(self, token: str) -> User:
        """The user the token names; raises AuthError otherwise."""
        return User(id=self.verify_claims(token)["sub"])

    def verify_claims(self, token: str) -> dict[str, Any]:
        """The token's claims once valid (``sub`` a non-empty string, ``exp`` present)."""
        if not token:
            raise AuthError("missing token")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM:
                raise AuthError(f"token algorithm must be {ALGORITHM}")
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                leeway=LEEWAY_S,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub:
            raise AuthError("token has no subject")
        return claims
