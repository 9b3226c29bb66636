"""``agent-platform migrate``: bring the configured database to the latest schema."""

from __future__ import annotations

import argparse
from typing import Any

from agent_platform.config import Settings, redact_url
from agent_platform.migrate import downgrade, upgrade
from agent_platform.preflight import check_backends


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("migrate", help="apply database migrations")
    parser.add_argument("--revision", default="head", help="target revision (default: head)")
    parser.add_argument("--down", action="store_true", help="downgrade to --revision instead")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    check_backends(settings, with_redis=False)
    url = settings.effective_database_url
    target = args.revision
    if args.down:
        target = args.revision if args.revision != "head" else "base"
        downgrade(url, target)
    else:
        upgrade(url, target)
    args.output.say(f"migrated {settings.database_backend} database to {target}")
    args.output.result(
        {
            "database": settings.database_backend,
            "database_url": redact_url(url),
            "direction": "down" if args.down else "up",
            "revision": target,
        }
    )
    return 0
