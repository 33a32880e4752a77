"""Fixtures for the security suite: the API fixtures of ``tests/api`` plus a real JWKS server.

The JWKS is served over HTTP on 127.0.0.1 from keys the tests generate, so verification,
rotation and refetch limits run against real network fetches.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.api.conftest import api, media  # noqa: F401  (fixtures shared with tests/api)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "settings(**overrides): Settings overrides for the app")


@dataclass
class IdentityProvider:
    """Signing keys by ``kid`` and the JWKS document published for them."""

    private: dict[str, Any] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    requests: int = 0
    status: int = 200

    def add_rsa(self, kid: str, *, publish: bool = True) -> None:
        self.private[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.append(kid)

    def add_ec(self, kid: str, *, publish: bool = True) -> None:
        self.private[kid] = ec.generate_private_key(ec.SECP256R1())
        if publish:
            self.published.append(kid)

    def algorithm(self, kid: str) -> str:
        return "ES256" if isinstance(self.private[kid], ec.EllipticCurvePrivateKey) else "RS256"

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in self.published:
            key = self.private[kid]
            if isinstance(key, ec.EllipticCurvePrivateKey):
                jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
            else:
                jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": self.algorithm(kid)})
        return {"keys": keys}

    def token(self, kid: str, claims: dict[str, Any], *, alg: str | None = None) -> str:
        return jwt.encode(
            claims, self.private[kid], algorithm=alg or self.algorithm(kid), headers={"kid": kid}
        )


@dataclass(frozen=True)
class JwksServer:
    url: str
    provider: IdentityProvider


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    """A JWKS endpoint on 127.0.0.1 publishing one RSA (``rsa-1``) and one EC (``ec-1``) key."""
    provider = IdentityProvider()
    provider.add_rsa("rsa-1")
    provider.add_ec("ec-1")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.requests += 1
            body = json.dumps(provider.jwks()).encode()
            self.send_response(provider.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield JwksServer(f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json", provider)
    finally:
        server.shutdown()
        server.server_close()
