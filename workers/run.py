"""``reelay worker``: Dramatiq worker processes for exports (the Procfile's ``worker``)."""

from __future__ import annotations

import argparse

from dramatiq import cli as dramatiq_cli

from server.queue import ACTOR_QUEUES
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
        "--queues", nargs="*", default=sorted(set(ACTOR_QUEUES.values())), help="queues to consume"
    )
    parser.add_argument(
        "--shutdown-timeout-s", type=int, default=60, help="grace period for in-flight messages"
    )


def run(args: argparse.Namespace) -> int:
    """Run Dramatiq's own supervisor: it forks the processes and, if one dies, stops them all
    so the process manager (or ``reelay dev``) starts the group again."""
    threads = args.threads if args.threads is not None else load_settings().worker_threads
    argv = [
        "workers.broker:setup",
        "--processes",
        str(args.processes),
        "--threads",
        str(threads),
        "--worker-shutdown-timeout",
        str(args.shutdown_timeout_s * 1000),
        "--queues",
        *args.queues,
    ]
    parsed = dramatiq_cli.make_argument_parser().parse_args(argv)
    return int(dramatiq_cli.main(parsed) or 0)
