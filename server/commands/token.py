"""``reelay token --user alice [--ttl 600]``: print an HS256 token (development and tests)."""

from __future__ import annotations

import argparse

from server.adapters.auth import MAX_USER_ID_CHARS, issue_token
from server.settings import load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user",
        required=True,
        help=f"the user id (the token's sub, at most {MAX_USER_ID_CHARS} characters)",
    )
    parser.add_argument("--ttl", type=int, default=600, help="seconds the token stays valid")


def run(args: argparse.Namespace) -> int:
    if args.ttl <= 0:
        print("--ttl must be positive")
        return 2
    settings = load_settings()
    try:
        token = issue_token(
            settings.jwt_secret,
            args.user,
            ttl_s=args.ttl,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    except ValueError as exc:  # a user id the server would refuse (too long, NUL, …)
        print(f"--user: {exc}")
        return 2
    print(token)
    return 0
