"""Security headers on every HTTP response: the page and the API alike.

The page is plain ES modules served by us, so the Content-Security-Policy allows only our
own scripts, styles, media and connections (plus the WebSocket on the same host, and the
S3 origin that video, segment and poster URLs point at; the HLS player's media source is
``blob:``); nothing may frame us. A header a route sets
itself is left alone.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.settings import Settings

#: Hosts as browsers send them; anything else is left out of the CSP rather than echoed.
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")

STATIC_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def storage_origins(settings: Settings) -> tuple[str, ...]:
    """Where presigned video URLs point, so the page may play and fetch them."""
    if not settings.resolved_storage_url.startswith("s3://"):
        return ()
    if settings.s3_endpoint_url:
        parts = urlsplit(settings.s3_endpoint_url)
        return (f"{parts.scheme}://{parts.netloc}",)
    return ("https://*.amazonaws.com",)


@lru_cache(maxsize=64)
def content_security_policy(extra_origins: tuple[str, ...], host: str | None) -> str:
    """The CSP for a response to a request for ``host`` (None when the Host is unusable)."""
    sockets = f" ws://{host} wss://{host}" if host else ""
    extra = "".join(f" {origin}" for origin in extra_origins)
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob:{extra}",
            "font-src 'self'",
            f"media-src 'self' blob:{extra}",
            f"connect-src 'self'{sockets}{extra}",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeadersMiddleware:
    """Adds ``STATIC_HEADERS``, the CSP, ``no-store`` on /api and HSTS over https."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        settings: Settings = scope["app"].state.settings
        csp = content_security_policy(
            storage_origins(settings), host if _HOST.match(host) else None
        )
        is_api = str(scope.get("path", "")).startswith("/api/")
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in STATIC_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", csp)
                if is_api:
                    headers.setdefault("Cache-Control", "no-store")
                if https:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)
