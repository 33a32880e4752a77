"""The SSRF guard refuses non-public targets by resolving and checking — never connecting."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from server.adapters.delivery.post import _pinned, post_signed
from server.adapters.delivery.ssrf import UnsafeUrl, check_url
from tests.webhooks.conftest import resolver_for

REFUSED = [
    "http://127.0.0.1/hook",
    "http://10.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8080/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://0.0.0.0/hook",
    "http://192.168.1.10/hook",
    "http://224.0.0.1/hook",
    "https://100.64.0.1/hook",
]


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any attempt to open a socket connection fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the guard opened a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


@pytest.mark.parametrize("url", REFUSED)
async def test_private_literal_addresses_are_refused(url: str, no_connections: None) -> None:
    nobody = resolver_for({})
    with pytest.raises(UnsafeUrl) as caught:
        await check_url(url, allow_private=False, resolver=nobody)
    assert caught.value.code == "private_address"


async def test_a_name_resolving_to_loopback_is_refused(no_connections: None) -> None:
    resolver = resolver_for({"hooks.example.com": ["127.0.0.1"]})
    with pytest.raises(UnsafeUrl) as caught:
        await check_url("https://hooks.example.com/x", allow_private=False, resolver=resolver)
    assert caught.value.code == "private_address" and "127.0.0.1" in caught.value.message


async def test_one_private_answer_among_public_ones_is_refused(no_connections: None) -> None:
    resolver = resolver_for({"hooks.example.com": ["93.184.215.14", "::1"]})
    with pytest.raises(UnsafeUrl, match="::1"):
        await check_url("https://hooks.example.com/x", allow_private=False, resolver=resolver)


async def test_public_addresses_pass_without_a_connection(no_connections: None) -> None:
    resolver = resolver_for({"hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07::1"]})
    target = await check_url(
        "https://hooks.example.com:8443/x", allow_private=False, resolver=resolver
    )
    assert target.port == 8443 and [str(a) for a in target.addresses] == [
        "93.184.215.14",
        "2606:2800:21f:cb07::1",
    ]


async def test_unresolvable_names_are_refused(no_connections: None) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        await check_url("https://nowhere.invalid/", allow_private=False, resolver=resolver_for({}))
    assert caught.value.code == "unresolvable_host"


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "file:///etc/passwd", "http://user:pw@example.com/", "/relative", ""],
)
async def test_only_plain_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        await check_url(url, allow_private=True, resolver=resolver_for({}))
    assert caught.value.code == "invalid_url"


async def test_the_flag_allows_private_targets() -> None:
    resolver = resolver_for({"localhost": ["127.0.0.1"]})
    target = await check_url("http://localhost:9/x", allow_private=True, resolver=resolver)
    assert str(target.addresses[0]) == "127.0.0.1"


async def test_delivery_refuses_a_name_that_now_resolves_to_loopback(
    no_connections: None,
) -> None:
    """DNS rebinding: checked again at send time, refused before any connection."""
    rebound = resolver_for({"hooks.example.com": ["127.0.0.1"]})
    outcome = await post_signed(
        "https://hooks.example.com/x",
        "{}",
        {"webhook-id": "evt_1"},
        timeout_s=1.0,
        allow_private=False,
        resolver=rebound,
    )
    assert not outcome.success and outcome.status_code is None
    assert outcome.error is not None and outcome.error.startswith("private_address")


async def test_requests_go_to_the_checked_address_under_the_real_name() -> None:
    resolver = resolver_for({"hooks.example.com": ["93.184.215.14"]})
    target = await check_url(
        "https://hooks.example.com:8443/in?x=1", allow_private=False, resolver=resolver
    )
    url, headers, extensions = _pinned(target, target.addresses[0])
    assert str(url) == "https://93.184.215.14:8443/in?x=1"
    assert headers == {"Host": "hooks.example.com:8443"}
    assert extensions == {"sni_hostname": "hooks.example.com"}
    v6 = await check_url("http://[2606:2800:21f:cb07::1]/", allow_private=False)
    assert str(_pinned(v6, v6.addresses[0])[0]) == "http://[2606:2800:21f:cb07::1]/"
