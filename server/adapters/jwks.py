"""Signing keys of a hosted identity provider, fetched from its JWKS URL and cached by ``kid``.

Providers rotate keys by publishing a new ``kid`` before signing with it, so an unknown
``kid`` triggers a refetch; refetches are rate-limited (``min_refresh_s``) so a flood of
tokens with made-up ``kid``s cannot turn us into a load generator against the provider.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

from server.settings import SettingsError

logger = logging.getLogger(__name__)

#: Algorithms a JWKS key may carry; anything else in the set is ignored.
JWKS_ALGORITHMS = ("RS256", "ES256")
#: An unknown ``kid`` refetches at most this often (seconds).
MIN_REFRESH_S = 60.0
#: Known keys are refetched when the cache is older than this, so revoked keys drop out.
MAX_AGE_S = 3600.0
FETCH_TIMEOUT_S = 5.0
#: A key set is a few kilobytes; a bigger answer is refused rather than parsed.
MAX_JWKS_BYTES = 256 * 1024


class KeysUnavailable(Exception):
    """The JWKS could not be fetched or parsed and no cached key matches (→ 503)."""


@dataclass(frozen=True)
class SigningKey:
    """One usable public key: its ``kid``, the one algorithm it verifies, and the key."""

    kid: str
    algorithm: str
    key: Any


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_jwks_url(url: str) -> str:
    """``url`` if it is https (or http on loopback, for development and tests)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and _is_loopback(host):
        return url
    raise SettingsError(f"REELAY_JWKS_URL must be an https URL, got {url!r}")


def parse_jwks(document: Any) -> dict[str, SigningKey]:
    """The RS256/ES256 signature keys with a ``kid`` in a JWKS document; others are skipped."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise KeysUnavailable("the JWKS document has no key list")
    keys: dict[str, SigningKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or entry.get("kty") not in ("RSA", "EC"):
            continue
        try:
            parsed = jwt.PyJWK(dict(entry))
        except jwt.PyJWTError as exc:
            logger.warning("skipping JWKS key %s: %s", kid, exc)
            continue
        if parsed.algorithm_name in JWKS_ALGORITHMS:
            keys[kid] = SigningKey(kid, parsed.algorithm_name, parsed.key)
    return keys


class JwksCache:
    """Keys by ``kid``; ``key(kid)`` fetches on first use, on an unknown ``kid`` (rate-limited)
    and when the cache is older than ``max_age_s`` (keeping old keys if that fetch fails)."""

    def __init__(
        self,
        url: str,
        *,
        min_refresh_s: float = MIN_REFRESH_S,
        max_age_s: float = MAX_AGE_S,
        timeout_s: float = FETCH_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = check_jwks_url(url)
        self._min_refresh_s = min_refresh_s
        self._max_age_s = max_age_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last attempt, successful or not
        self._lock = asyncio.Lock()

    def cached(self, kid: str) -> SigningKey | None:
        """The key for ``kid`` if already cached (no I/O)."""
        return self._keys.get(kid)

    async def key(self, kid: str) -> SigningKey | None:
        """The key for ``kid``, fetching the set when allowed; None if the set lacks it.

        Raises KeysUnavailable when a needed fetch fails and nothing cached matches.
        """
        if kid in self._keys and not self._stale():
            return self._keys[kid]
        async with self._lock:
            if (kid not in self._keys or self._stale()) and self._may_fetch():
                await self._refresh(required=kid not in self._keys)
        if self._fetched_at is None:
            raise KeysUnavailable("the signing keys could not be loaded yet")
        return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._max_age_s

    def _may_fetch(self) -> bool:
        return (
            self._attempted_at is None or self._clock() - self._attempted_at >= self._min_refresh_s
        )

    async def _refresh(self, *, required: bool) -> None:
        self._attempted_at = self._clock()
        try:
            self._keys = parse_jwks(await self._download())
            self._fetched_at = self._clock()
        except KeysUnavailable as exc:
            logger.warning("JWKS refresh from %s failed: %s", self.url, exc)
            if required:
                raise

    async def _download(self) -> Any:
        timeout = httpx.Timeout(self._timeout_s)
        try:
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                response = await client.get(self.url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise KeysUnavailable(f"cannot reach the JWKS URL ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise KeysUnavailable(f"the JWKS URL answered {response.status_code}")
        if len(response.content) > MAX_JWKS_BYTES:
            raise KeysUnavailable("the JWKS document is too large")
        try:
            return response.json()
        except ValueError as exc:
            raise KeysUnavailable("the JWKS document is not JSON") from exc
