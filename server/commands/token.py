"""``reelay token --user alice [--ttl 600]``: print an HS256 token (development and tests)."""

from __future__ import annotations

import argparse

from server.auth import issue_token
from server.settings import load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", required=True, help="the user id (the token's sub)")
    parser.add_argument("--ttl", type=int, default=600, help="seconds the token stays valid")


def run(args: argparse.Namespace) -> int:
    if args.ttl <= 0:
        print("--ttl must be positive")
        return 2
    settings = load_settings()
    print(
        issue_token(
            settings.jwt_secret,
            args.user,
            ttl_s=args.ttl,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    )
    return 0
