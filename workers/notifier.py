"""``reelay notifier``: the processes that deliver webhooks and send emails (Procfile
``notifier``).

They consume the notification queues only, never rendering. Each process runs many
actor threads that do nothing but wait on coroutines on the process's one event loop
(``workers/runtime.py``), so a slow receiver costs a waiting thread here and no CPU,
and ``--threads`` deliveries are in flight per process. The per-endpoint and per-user
caps (``server/adapters/delivery/slots.py``) hold across all notifier processes.
"""

from __future__ import annotations

import argparse

from server.adapters.queue import NOTIFICATION_QUEUES
from server.settings import load_settings
from workers.run import run_dramatiq


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--processes", "-p", type=int, default=1, help="notifier processes")
    parser.add_argument(
        "--threads",
        "-t",
        type=int,
        default=None,
        help="deliveries in flight per process (default REELAY_NOTIFIER_THREADS)",
    )
    parser.add_argument(
        "--shutdown-timeout-s",
        type=int,
        default=30,
        help="grace period for attempts in flight (longer than REELAY_WEBHOOK_TIMEOUT_S)",
    )


def run(args: argparse.Namespace) -> int:
    threads = args.threads if args.threads is not None else load_settings().notifier_threads
    return run_dramatiq(
        "workers.broker:setup_notifier",
        processes=args.processes,
        threads=threads,
        queues=list(NOTIFICATION_QUEUES),
        shutdown_timeout_s=args.shutdown_timeout_s,
    )
