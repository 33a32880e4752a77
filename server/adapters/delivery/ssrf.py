"""The SSRF guard: a webhook URL must point at the public internet.

Resolve the host, then refuse if ANY address is loopback, private, link-local, multicast,
reserved or unspecified (IPv4, IPv6, and IPv4 inside IPv6). The check runs at registration
and again before every delivery (DNS may change: rebinding), and the delivery connects to
the address checked here, never to a fresh lookup. Tests inject ``resolver`` so no DNS and
no connection is ever needed to prove a refusal.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: ``resolver(host, port)`` → the host's addresses as text; raises OSError when it can't.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

SCHEMES = {"http": 80, "https": 443}
MAX_URL_CHARS = 2048
#: A lookup slower than this counts as "does not resolve" (registration is a request).
RESOLVE_TIMEOUT_S = 5.0


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks; ``code`` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Target:
    """A checked URL: its parts and the addresses it may be reached at (checked order)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The operating system's resolver (``getaddrinfo``), off the event loop."""
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
    except TimeoutError as exc:
        raise OSError(f"looking up {host} took over {RESOLVE_TIMEOUT_S:g} s") from exc
    return [str(info[4][0]) for info in infos]


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` is not a public destination, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return refusal(mapped)
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("not globally routable", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def parse_url(url: str) -> SplitResult:
    """The URL's parts if it is an absolute http(s) URL with a host; else ``UnsafeUrl``."""
    if len(url) > MAX_URL_CHARS:
        raise UnsafeUrl("invalid_url", f"longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a bad port or an unbalanced IPv6 bracket
        raise UnsafeUrl("invalid_url", f"not a valid URL ({exc})") from exc
    if parts.scheme not in SCHEMES:
        raise UnsafeUrl("invalid_url", "must be an http:// or https:// URL")
    if not parts.hostname:
        raise UnsafeUrl("invalid_url", "must name a host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("invalid_url", "must not carry credentials")
    if port == 0:
        raise UnsafeUrl("invalid_url", "port 0 cannot be reached")
    return parts


async def check_url(
    url: str, *, allow_private: bool, resolver: Resolver = system_resolver
) -> Target:
    """Resolve ``url``'s host and refuse it unless every address is public.

    With ``allow_private`` (development and tests) any address passes, but the URL must
    still be http(s). Raises ``UnsafeUrl`` (codes ``invalid_url``, ``unresolvable_host``,
    ``private_address``); never opens a connection.
    """
    parts = parse_url(url)
    host = str(parts.hostname)
    port = parts.port or SCHEMES[parts.scheme]
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:  # a name, not an address
        literal = None
    if literal is not None:
        found: Sequence[str] = [str(literal)]
    else:
        try:
            found = await resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise UnsafeUrl("unresolvable_host", f"host {host} does not resolve") from exc
    addresses = tuple(dict.fromkeys(ipaddress.ip_address(a.split("%", 1)[0]) for a in found))
    if not addresses:
        raise UnsafeUrl("unresolvable_host", f"host {host} has no address")
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                raise UnsafeUrl(
                    "private_address",
                    f"host {host} resolves to {address} ({reason}); "
                    "webhooks go to public addresses only",
                )
    return Target(url=url, scheme=parts.scheme, host=host, port=port, addresses=addresses)
