"""Real services for the whole test session, started once and cleaned per test.

- ``redis_server`` / ``redis_url`` / ``redis_client``: a private redis-server process.
- ``database_url`` (sqlite | postgres) / ``db``: an initialised, migrated, emptied database.
- ``settings``: a factory of ``Settings`` pointing at all of the above and a tmp data dir.
- ``moto_server``: a real S3 API (moto) on 127.0.0.1.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest
import redis
import redis.asyncio
from tortoise import Tortoise, connections

from server.adapters.db import close_db, init_db
from server.commands.embedded_redis import free_port, redis_server_binary
from server.settings import Settings

POSTGRES_ENV = "REELAY_TEST_DATABASE_URL"


@dataclass
class RedisServer:
    """A redis-server child process; ``stop``/``start``/``restart`` keep the same port.

    Started with no persistence, so a restart loses every key (like a crashed Redis).
    """

    workdir: Path
    port: int = field(default_factory=free_port)
    executable: str = field(default_factory=redis_server_binary)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout_s: float = 10.0) -> None:
        if self.running:
            return
        options = {"bind": "127.0.0.1", "port": str(self.port), "save": "", "appendonly": "no"}
        args = [self.executable, "--dir", str(self.workdir)]
        for name, value in options.items():
            args += [f"--{name}", value]
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or not self.running:
                        raise
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(workdir=tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    """A client on an emptied Redis (restarted first if an earlier test stopped it)."""
    redis_server.start()
    client = redis.asyncio.Redis.from_url(redis_server.url)
    await client.flushall()
    yield client
    await client.aclose()


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query string."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


async def pg_schema(url: str, schema: str, *, drop: bool = False) -> None:
    """Create (or with ``drop``, drop) a PostgreSQL schema, outside Tortoise."""
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(url)
    try:
        if drop:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        else:
            await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        await connection.close()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A database URL for this session: a temp SQLite file, or PostgreSQL from the env.

    PostgreSQL gets a schema of its own per session, so concurrent test runs don't collide.
    """
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path_factory.mktemp('sqlite') / 'test.sqlite3'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        reason = f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgres://postgres@127.0.0.1/test)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must not skip database tests", pytrace=False)
        pytest.skip(reason)
    schema = f"reelay_test_{os.getpid()}_{secrets.token_hex(3)}"
    await pg_schema(base, schema)
    yield with_query(base, schema=schema)
    await close_db()
    await pg_schema(base, schema, drop=True)


async def _empty_tables() -> None:
    connection = connections.get("default")
    tables = [model._meta.db_table for model in Tortoise.apps["models"].values()]
    if connection.capabilities.dialect == "postgres":
        quoted = ", ".join(f'"{table}"' for table in tables)
        await connection.execute_script(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
        return
    statements = ["PRAGMA foreign_keys=OFF"]
    statements += [f'DELETE FROM "{table}"' for table in tables]
    statements.append("PRAGMA foreign_keys=ON")
    for statement in statements:
        await connection.execute_script(statement)


@pytest.fixture
async def db(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """Tortoise initialised on ``database_url``, migrated, every table emptied; yields the URL."""
    await init_db(Settings(data_dir=tmp_path / "data", database_url=database_url))
    await _empty_tables()
    yield database_url
    await close_db()


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> SettingsFactory:
    """``settings(**overrides)``: a tmp data dir, local storage, the test Redis, and the test
    database when the test also uses ``db``/``database_url`` (else SQLite in the data dir)."""
    database_url = ""
    if "database_url" in request.fixturenames:
        database_url = str(request.getfixturevalue("database_url"))

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "redis_url": redis_url,
            "storage_url": "",
            "jwt_secret": "test-secret-" + "x" * 32,
            "webhooks_allow_private": True,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real moto S3 server on 127.0.0.1 (random port); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_SESSION_TOKEN", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        yield f"http://127.0.0.1:{port}"
        server.stop()


#: Test folders whose tests render with real worker processes or a whole stack.
_REAL_WORKERS = frozenset({"e2e", "browser", "workers"})


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """How ``make test`` spreads the suite over its xdist processes (``--dist loadgroup``).

    Each module stays on one process, so its module fixtures (stacks, live servers) are
    set up once; and every test that renders with real worker processes runs on one
    process, one after another: two stacks rendering at once on a 2-core machine would
    double each other's wall times and turn the tests' deadlines into flakes.
    """
    tests_dir = Path(__file__).resolve().parent
    for item in items:
        relative = item.path.resolve().relative_to(tests_dir)
        heavy = relative.parts[0] in _REAL_WORKERS
        item.add_marker(pytest.mark.xdist_group("real-workers" if heavy else str(relative)))
