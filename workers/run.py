"""``reelay worker``: Dramatiq worker processes for exports (the Procfile's ``worker``)."""

from __future__ import annotations

import argparse

from dramatiq import cli as dramatiq_cli

from server.queue import ACTOR_QUEUES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--processes", "-p", type=int, default=1, help="worker processes")
    parser.add_argument("--threads", "-t", type=int, default=1, help="render threads per process")
    parser.add_argument(
        "--queues", nargs="*", default=sorted(set(ACTOR_QUEUES.values())), help="queues to consume"
    )
    parser.add_argument(
        "--shutdown-timeout-s", type=int, default=60, help="grace period for in-flight messages"
    )


def run(args: argparse.Namespace) -> int:
    """Run Dramatiq's own supervisor: it forks the processes and restarts dead ones."""
    argv = [
        "workers.broker:setup",
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
        "--worker-shutdown-timeout",
        str(args.shutdown_timeout_s * 1000),
        "--queues",
        *args.queues,
    ]
    parsed = dramatiq_cli.make_argument_parser().parse_args(argv)
    return int(dramatiq_cli.main(parsed) or 0)
