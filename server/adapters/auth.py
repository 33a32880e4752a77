"""Who is calling: JWTs whose ``sub`` is the user (docs/api.md "Auth").

Two setups, never mixed: HS256 with ``REELAY_JWT_SECRET`` (development, `reelay token`), or
RS256/ES256 keys from ``REELAY_JWKS_URL`` (hosted identity providers). The token's ``alg``
must be the one its key is for; ``alg: none``, HS256 under JWKS (key confusion) and every
other algorithm are refused before any signature check.

The ``sub`` becomes ``user_id`` in every row, so a subject no row can hold (longer than
``MAX_USER_ID_CHARS``, a NUL, a lone surrogate) is refused here, the one place tokens are
verified for HTTP and WebSocket alike, rather than failing later in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jwt

from server.adapters.jwks import JwksCache, KeysUnavailable, SigningKey
from server.clock import now_s
from server.settings import Settings
from server.text import is_valid_text

ALGORITHM = "HS256"
#: Clock skew tolerated between the token issuer and us, in seconds.
LEEWAY_S = 30
#: Real tokens are well under this; longer strings are refused without parsing.
MAX_TOKEN_CHARS = 8192


#: The longest user id (the token's ``sub``) a row can hold; longer ones are refused.
MAX_USER_ID_CHARS = 255


@dataclass(frozen=True)
class User:
    """The caller; ``id`` is the token's ``sub``; ``expires_at`` its ``exp`` (Unix seconds)."""

    id: str
    expires_at: float | None = field(default=None, compare=False)


class AuthError(Exception):
    """A missing, malformed, expired or otherwise unacceptable token (→ 401 / close 4001)."""

    code = "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidSubject(AuthError):
    """A valid token whose ``sub`` cannot be a user id here (→ 401 ``invalid_subject``)."""

    code = "invalid_subject"


class AuthUnavailable(AuthError):
    """The identity provider's keys cannot be fetched, so no verdict either way (→ 503)."""

    code = "auth_unavailable"


def subject_problem(sub: str) -> str | None:
    """Why a non-empty ``sub`` cannot be a user id, or None when it can: at most
    ``MAX_USER_ID_CHARS`` characters of valid Unicode without NUL."""
    if len(sub) > MAX_USER_ID_CHARS:
        return (
            f"token subject (sub) is {len(sub)} characters long; "
            f"at most {MAX_USER_ID_CHARS} are accepted"
        )
    if "\x00" in sub or not is_valid_text(sub):
        return "token subject (sub) is not valid Unicode text"
    return None


def issue_token(
    secret: str,
    user_id: str,
    *,
    ttl_s: int = 600,
    issuer: str | None = None,
    audience: str | None = None,
    now: float | None = None,
) -> str:
    """An HS256 token for ``user_id`` valid ``ttl_s`` seconds from ``now`` (default: now).

    Raises ValueError for a user id that verification would refuse (``subject_problem``).
    """
    problem = subject_problem(user_id) if user_id else "token has no subject"
    if problem is not None:
        raise ValueError(problem)
    issued_at = int(now_s() if now is None else now)
    claims: dict[str, Any] = {"sub": user_id, "iat": issued_at, "exp": issued_at + ttl_s}
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class TokenVerifier:
    """Checks signature, expiry (with ``LEEWAY_S``), and ``iss``/``aud`` when configured."""

    def __init__(self, settings: Settings, *, jwks: JwksCache | None = None) -> None:
        self._secret = settings.jwt_secret
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        if jwks is None and settings.jwks_url:
            jwks = JwksCache(settings.jwks_url)
        self.jwks = jwks

    async def verify(self, token: str) -> User:
        """The user the token names; raises AuthError otherwise (AuthUnavailable: no keys)."""
        claims = await self.claims(token)
        return User(id=claims["sub"], expires_at=float(claims["exp"]))

    async def claims(self, token: str) -> dict[str, Any]:
        """The token's claims once valid, fetching JWKS keys when needed."""
        header = self._header(token)
        if self.jwks is None:
            return self._decode(token, header, None)
        try:
            key = await self.jwks.key(self._kid(header))
        except KeysUnavailable as exc:
            raise AuthUnavailable("the identity provider's keys are unavailable") from exc
        return self._decode(token, header, key)

    def verify_claims(self, token: str) -> dict[str, Any]:
        """Like ``claims`` without I/O: under JWKS only keys already cached are used."""
        header = self._header(token)
        if self.jwks is None:
            return self._decode(token, header, None)
        return self._decode(token, header, self.jwks.cached(self._kid(header)))

    def _header(self, token: str) -> dict[str, Any]:
        if not token:
            raise AuthError("missing token")
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError("invalid token: too long")
        try:
            header: dict[str, Any] = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        expected = ("RS256", "ES256") if self.jwks is not None else (ALGORITHM,)
        if header.get("alg") not in expected:
            raise AuthError(f"token algorithm must be {' or '.join(expected)}")
        return header

    @staticmethod
    def _kid(header: dict[str, Any]) -> str:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("invalid token: no key id (kid)")
        return kid

    def _decode(self, token: str, header: dict[str, Any], key: SigningKey | None) -> dict[str, Any]:
        if self.jwks is None:
            secret: Any = self._secret
            algorithm = ALGORITHM
        elif key is None:
            raise AuthError("invalid token: unknown signing key")
        elif header.get("alg") != key.algorithm:
            raise AuthError(f"token algorithm must be {key.algorithm} for this key")
        else:
            secret, algorithm = key.key, key.algorithm
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                secret,
                algorithms=[algorithm],
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
        problem = subject_problem(sub)
        if problem is not None:
            raise InvalidSubject(problem)
        return claims
