"""One signed webhook POST: check the target, send, and report what happened.

The body is sent to the addresses the SSRF guard just checked (the URL's host is swapped
for the address; ``Host`` and TLS SNI keep the name), so a DNS answer that changes between
check and connect cannot redirect the request. Redirects are never followed, the whole
attempt is bounded by one timeout, and only the first bytes of the answer are read.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

from server.adapters.delivery.ssrf import (
    IPAddress,
    Resolver,
    Target,
    UnsafeUrl,
    check_url,
    system_resolver,
)

#: How much of a receiver's answer is kept in the attempt log.
SNIPPET_BYTES = 1024
USER_AGENT = "reelay-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    """The result of one attempt; ``status_code`` is None when no answer came back."""

    success: bool
    status_code: int | None
    duration_ms: float
    snippet: str = ""
    error: str | None = None

    @property
    def gone(self) -> bool:
        """410 Gone: the receiver asks us to stop sending to this endpoint."""
        return self.status_code == 410


def _pinned(target: Target, address: IPAddress) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The URL aimed at ``address``, the Host header and TLS name that keep the real host."""
    url = httpx.URL(target.url)
    host_header = url.netloc.decode("ascii")
    extensions: dict[str, Any] = {}
    if target.scheme == "https":
        extensions["sni_hostname"] = target.host
    return url.copy_with(host=str(address)), {"Host": host_header}, extensions


async def _read_capped(response: httpx.Response) -> str:
    kept = bytearray()
    async for chunk in response.aiter_raw():
        kept.extend(chunk[: SNIPPET_BYTES - len(kept)])
        if len(kept) >= SNIPPET_BYTES:
            break
    return kept.decode("utf-8", errors="replace")


async def _send(
    client: httpx.AsyncClient, target: Target, body: bytes, headers: dict[str, str], pin: bool
) -> tuple[int, str]:
    """POST to the first reachable checked address (all of them are allowed)."""
    candidates = target.addresses if pin else (None,)
    for index, address in enumerate(candidates):
        url: httpx.URL | str = target.url
        extra: dict[str, str] = {}
        extensions: dict[str, Any] = {}
        if address is not None:
            url, extra, extensions = _pinned(target, address)
        try:
            async with client.stream(
                "POST", url, content=body, headers={**headers, **extra}, extensions=extensions
            ) as response:
                return response.status_code, await _read_capped(response)
        except httpx.ConnectError:
            if index == len(candidates) - 1:
                raise  # every address refused: the caller logs the last error
    raise AssertionError("no address to send to")  # check_url never returns none


async def post_signed(
    url: str,
    body: str,
    headers: dict[str, str],
    *,
    timeout_s: float,
    allow_private: bool,
    resolver: Resolver = system_resolver,
) -> Outcome:
    """POST ``body`` with ``headers`` to ``url``; 2xx within ``timeout_s`` is success.

    Never raises for the receiver's faults: refusals by the SSRF guard, connection errors,
    timeouts and non-2xx answers (redirects included) all come back as a failed Outcome.
    """
    started = time.perf_counter()

    def elapsed() -> float:
        return round((time.perf_counter() - started) * 1000, 1)

    try:
        target = await check_url(url, allow_private=allow_private, resolver=resolver)
    except UnsafeUrl as exc:
        return Outcome(False, None, elapsed(), error=f"{exc.code}: {exc.message}")
    send_headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **headers,
    }
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
    try:
        async with (
            asyncio.timeout(timeout_s),
            httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client,
        ):
            status, snippet = await _send(
                client, target, body.encode("utf-8"), send_headers, pin=not allow_private
            )
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(False, None, elapsed(), error=f"timed out after {timeout_s:g} s")
    except httpx.HTTPError as exc:
        return Outcome(False, None, elapsed(), error=f"{type(exc).__name__}: {exc}")
    success = 200 <= status < 300
    error = None
    if 300 <= status < 400:
        error = f"redirect ({status}) not followed"
    elif not success:
        error = f"HTTP {status}"
    return Outcome(success, status, elapsed(), snippet=snippet, error=error)
