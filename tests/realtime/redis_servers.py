"""Private Redis servers for restart tests, with or without persistence."""

from __future__ import annotations

import os
from pathlib import Path

from server.commands.embedded_redis import redis_server_binary
from tests.conftest import RedisServer


def persistent_redis(workdir: Path) -> RedisServer:
    """A Redis that keeps its data across restarts (AOF, fsync per write), like production.

    ``RedisServer`` starts servers without persistence; a wrapper script appends the AOF
    options (later command-line options win).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    wrapper = workdir / "redis-server-aof"
    wrapper.write_text(
        f'#!/bin/sh\nexec "{redis_server_binary()}" "$@" --appendonly yes --appendfsync always\n'
    )
    os.chmod(wrapper, 0o755)
    return RedisServer(workdir=workdir, executable=str(wrapper))
