"""The app as ``uvicorn --factory`` builds it for the fuzz run: settings from ``REELAY_*``
variables, and a webhook URL resolver that never touches DNS: every name is 127.0.0.1, so
generated hostnames register (with private targets allowed) and nothing leaves the host."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence

import httpx
from starlette.applications import Starlette

from server.app import create_app


async def loopback_dns(host: str, port: int) -> Sequence[str]:
    return ["127.0.0.1"]


def create() -> Starlette:
    app = create_app()
    app.state.webhook_resolver = loopback_dns
    return app


def wait_until_up(base: str, process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """Return once the live server at ``base`` answers /healthz; raise if it exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("uvicorn did not come up")
