"""The app as ``uvicorn --factory`` builds it for the fuzz run: settings from ``REELAY_*``
variables, and a webhook URL resolver that never touches DNS: every name is 127.0.0.1, so
generated hostnames register (with private targets allowed) and nothing leaves the host."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette

from server.app import create_app


async def loopback_dns(host: str, port: int) -> Sequence[str]:
    return ["127.0.0.1"]


def create() -> Starlette:
    app = create_app()
    app.state.webhook_resolver = loopback_dns
    return app
