"""The `hogkit sync` subcommand: arguments and the handler that calls `run_sync`.

Registered by the CLI's parser; redis-py is imported only when the command runs, so the
rest of the command line works without the `redis` extra.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

__all__ = ["PROJECT_KEY_ENV", "SECRET_KEY_ENV", "add_sync_command"]

SECRET_KEY_ENV = "POSTHOG_SECRET_KEY"
PROJECT_KEY_ENV = "POSTHOG_PROJECT_API_KEY"


class SyncError(Exception):
    """A usage problem, reported by the CLI as one line and exit status 2."""


def add_sync_command(commands: Any, error: type[Exception] = SyncError) -> None:
    """Add `sync` to an argparse subparsers object; `error` is the CLI's usage error type."""
    sync = commands.add_parser(
        "sync",
        help="keep a fleet's shared copy of the flag definitions in Redis fresh",
        description=(
            "Download the project's flag definitions every interval and share them through "
            "Redis, for app servers that only read them (flag_definitions_follower_only=True). "
            "Several sync processes elect one leader, so PostHog sees one poll per interval. "
            f"Keys may come from ${SECRET_KEY_ENV} and ${PROJECT_KEY_ENV}; they are never "
            "printed."
        ),
    )
    sync.add_argument("--redis", required=True, metavar="URL", help="redis://host:port/db")
    sync.add_argument("--host", required=True, help="your PostHog instance, with the protocol")
    sync.add_argument("--secret-key", metavar="KEY", help=f"default: ${SECRET_KEY_ENV}")
    sync.add_argument("--project-api-key", metavar="TOKEN", help=f"default: ${PROJECT_KEY_ENV}")
    sync.add_argument("--interval", type=float, default=30.0, metavar="SECONDS", help="default: 30")
    sync.add_argument("--prefix", default="hogkit", help="Redis key prefix (default: hogkit)")
    sync.add_argument("--once", action="store_true", help="refresh once and exit")
    sync.set_defaults(handler=_handler(error))


def _handler(error: type[Exception]) -> Any:
    def run(args: argparse.Namespace, streams: Any) -> int:
        secret_key = args.secret_key or os.environ.get(SECRET_KEY_ENV)
        project_key = args.project_api_key or os.environ.get(PROJECT_KEY_ENV)
        if not secret_key or not project_key:
            raise error(
                f"sync: give --secret-key and --project-api-key (or set {SECRET_KEY_ENV} "
                f"and {PROJECT_KEY_ENV})"
            )
        if not args.interval > 0:
            raise error("sync: --interval must be a positive number of seconds")
        try:
            from .sync import run_sync
        except ImportError:
            raise error("sync needs redis-py: pip install 'hogkit[redis]'") from None
        handler = logging.StreamHandler(getattr(streams, "stderr", sys.stderr))
        logging.getLogger("hogkit").addHandler(handler)
        try:
            return run_sync(
                args.redis,
                project_key,
                secret_key,
                args.host,
                args.interval,
                once=args.once,
                prefix=args.prefix,
            )
        finally:
            logging.getLogger("hogkit").removeHandler(handler)

    return run
