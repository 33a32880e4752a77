"""``reelay worker``: Dramatiq worker processes that render (the Procfile's ``worker``).

They consume the render queues only; webhook deliveries and emails belong to
``reelay notifier`` (``workers/notifier.py``), so no receiver can hold a render thread.
"""

from __future__ import annotations

import argparse

import dramatiq.worker
from dramatiq import cli as dramatiq_cli

from server.adapters.queue import RENDER_QUEUES
from server.settings import load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--processes", "-p", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--threads",
        "-t",
        type=int,
        default=None,
        help="threads per process (default REELAY_WORKER_THREADS)",
    )
    parser.add_argument(
        "--queues",
        nargs="*",
        choices=RENDER_QUEUES,
        default=list(RENDER_QUEUES),
        help="render queues to consume (default: all of them)",
    )
    parser.add_argument(
        "--shutdown-timeout-s", type=int, default=60, help="grace period for in-flight messages"
    )


def run_dramatiq(
    entry: str, *, processes: int, threads: int, queues: list[str], shutdown_timeout_s: int
) -> int:
    """Run Dramatiq's own supervisor on broker ``entry``: it forks the processes and, if
    one dies, stops them all so the process manager (or ``reelay dev``) starts the group
    again."""
    argv = [
        entry,
        "--processes",
        str(processes),
        "--threads",
        str(threads),
        "--worker-shutdown-timeout",
        str(shutdown_timeout_s * 1000),
        "--queues",
        *queues,
    ]
    parsed = dramatiq_cli.make_argument_parser().parse_args(argv)
    # One message per thread at a time (Dramatiq's default holds two): a render step takes
    # seconds, and a message held in one worker's buffer behind another waits while other
    # workers idle. The forked processes inherit this module setting.
    dramatiq.worker.QUEUE_PREFETCH = threads
    return int(dramatiq_cli.main(parsed) or 0)


def run(args: argparse.Namespace) -> int:
    threads = args.threads if args.threads is not None else load_settings().worker_threads
    return run_dramatiq(
        "workers.broker:setup",
        processes=args.processes,
        threads=threads,
        queues=list(args.queues),
        shutdown_timeout_s=args.shutdown_timeout_s,
    )
