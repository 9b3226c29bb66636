"""``agent-platform migrate``: bring the configured database to the latest schema."""

from __future__ import annotations

import argparse
from typing import Any

from agent_platform.config import Settings
from agent_platform.migrate import downgrade, upgrade


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("migrate", help="apply database migrations")
    parser.add_argument("--revision", default="head", help="target revision (default: head)")
    parser.add_argument("--down", action="store_true", help="downgrade to --revision instead")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    url = settings.effective_database_url
    if args.down:
        downgrade(url, args.revision if args.revision != "head" else "base")
    else:
        upgrade(url, args.revision)
    print(f"migrated {settings.database_backend} database to {args.revision}")
    return 0
