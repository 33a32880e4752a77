"""The ``reelay`` command line: one sub-command per module, imported only when chosen.

Lazy imports keep ``reelay render`` free of web dependencies and keep the web process
from importing worker code (the dependency arrows point workers → server only).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

#: sub-command → (module implementing it, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "dev": ("server.commands.dev", "the whole embedded stack: Redis, web, workers and notifier"),
    "web": ("server.commands.web", "the HTTP/WebSocket server (production process)"),
    "worker": ("workers.run", "Dramatiq render workers (production process)"),
    "notifier": ("workers.notifier", "webhook and email delivery (production process)"),
    "migrate": ("server.commands.migrate", "apply database migrations"),
    "token": ("server.commands.token", "print an HS256 token for development and tests"),
    "render": ("workers.render.cli", "render one clip in this process, with a progress bar"),
}


class Command(Protocol):
    """What a sub-command module provides."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _load(name: str) -> Command:
    return cast(Command, importlib.import_module(COMMANDS[name][0]))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen sub-command; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="reelay", description="reelay clip-export service")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    for name, (_, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text)
        if name == chosen:
            _load(name).add_arguments(sub_parser)
    args = parser.parse_args(argv)
    return _load(args.command).run(args)


if __name__ == "__main__":
    sys.exit(main())
