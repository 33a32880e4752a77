"""URLs that work without a token for a while: an HMAC over the path and the expiry.

A ``<video>`` element or an HLS player cannot send an ``Authorization`` header, so the
media an owner may watch is handed out as signed paths. The signature binds the exact
path (so it cannot be moved to another export or file) and the expiry (so it cannot be
extended); it is checked in constant time. Like S3's presigned URLs, a signed URL is a
bearer capability: whoever holds it may fetch that one file until it expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import urlencode

#: The query parameters of a signed URL.
EXPIRES, SIGNATURE = "expires", "signature"
_EXPIRES = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # 32 bytes, base64url without padding
_CONTEXT = b"reelay media urls v1"


class SignatureRefused(Exception):
    """A signed URL that must not be served; ``code`` says why, for the 403 answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def signing_key(media_url_secret: str | None, jwt_secret: str) -> bytes:
    """The configured key, else one derived from the JWT secret (never the secret itself,
    so a media signature can never stand in for a token signature)."""
    if media_url_secret:
        return media_url_secret.encode()
    return hmac.new(jwt_secret.encode(), _CONTEXT, hashlib.sha256).digest()


@dataclass(frozen=True)
class UrlSigner:
    key: bytes

    def _signature(self, path: str, expires: int) -> str:
        mac = hmac.new(self.key, f"{path}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def sign(self, path: str, expires: int) -> str:
        """``path?expires=…&signature=…``, good until the Unix time ``expires``."""
        query = urlencode({EXPIRES: expires, SIGNATURE: self._signature(path, expires)})
        return f"{path}?{query}"

    def verify(self, path: str, expires: str | None, signature: str | None, now: float) -> None:
        """Raise SignatureRefused unless ``signature`` signs ``path`` and ``expires`` and
        ``expires`` has not passed."""
        if expires is None or signature is None:
            raise SignatureRefused("signature_invalid", "the URL is not signed")
        if not _EXPIRES.match(expires) or not _SIGNATURE.match(signature):
            raise SignatureRefused("signature_invalid", "the URL's signature is malformed")
        expected = self._signature(path, int(expires))
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise SignatureRefused("signature_invalid", "the URL's signature does not match")
        if int(expires) < now:
            raise SignatureRefused("signature_expired", "the URL has expired; ask for a new one")
