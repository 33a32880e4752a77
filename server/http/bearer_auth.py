"""Bearer-token authentication for everything mounted under ``/api``.

Done as middleware on the mount, so no route can forget it; the verified ``User`` waits in
the scope for ``server.http.services.current_user``.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from server.adapters.auth import AuthError, AuthUnavailable, TokenVerifier
from server.http.error_handlers import error_response
from server.http.services import USER_SCOPE_KEY


class BearerAuthMiddleware:
    """401 ``unauthorized`` unless ``Authorization: Bearer <JWT>`` verifies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        verifier: TokenVerifier = scope["app"].state.services.verifier
        header = Headers(scope=scope).get("authorization", "")
        scheme, _, token = header.partition(" ")
        problem, code = None, "unauthorized"
        if scheme.lower() != "bearer" or not token.strip():
            problem = "missing bearer token"
        else:
            try:
                scope[USER_SCOPE_KEY] = await verifier.verify(token.strip())
            except AuthUnavailable as exc:
                response = error_response(503, exc.code, exc.message, headers={"Retry-After": "5"})
                await response(scope, receive, send)
                return
            except AuthError as exc:
                problem, code = str(exc) or "invalid token", exc.code
        if problem is not None:
            response = error_response(401, code, problem, headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
