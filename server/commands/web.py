"""``reelay web``: the HTTP server (uvicorn running ``create_app``), the production process.

uvicorn builds the app through the factory in each worker process, so settings are read
there from ``REELAY_*`` variables; the flags override host and port.
"""

from __future__ import annotations

import argparse
import gc

import uvicorn

from server.ops.logs import uvicorn_log_config
from server.settings import load_settings

#: Chosen by bench/realtime.py (same fan-out and latency as websockets-sansio, less memory
#: per socket). Per-message deflate is off: its zlib state costs ~100 KiB per socket for
#: small JSON frames.
WS_PROTOCOL = "wsproto"
EVENT_LOOP = "uvloop"

#: uvicorn buffers a client frame whole before the app sees it: past this many times
#: ``ws_max_message_bytes`` it stops and closes 1009, so no socket — authenticated or
#: not — holds more than that; smaller oversized frames get the app's
#: ``message_too_large`` error and the socket lives on.
WS_FRAME_SLACK = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="interface to listen on (REELAY_HOST)")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (REELAY_PORT)")
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (default 1)"
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.redis_url:
        print("reelay web: REELAY_REDIS_URL is required (or use `reelay dev`)")
        return 2
    # Imported modules live as long as the process: keep them out of every GC pass, which
    # otherwise walks them all (bench/realtime.py: polling p99 ~9.7 → ~8 ms).
    gc.freeze()
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=max(args.workers, 1),
        log_level=settings.log_level,
        log_config=uvicorn_log_config(settings.log_format),
        proxy_headers=True,
        lifespan="on",
        ws=WS_PROTOCOL,
        loop=EVENT_LOOP,
        ws_per_message_deflate=False,
        ws_max_size=settings.ws_max_message_bytes * WS_FRAME_SLACK,
    )
    return 0
