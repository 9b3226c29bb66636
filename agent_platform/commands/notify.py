"""``agent-platform notify``: run the outbox dispatcher, show a notification, export the log.

``notify dispatch`` is the long-running worker (many may run against one database, in as many
processes or machines, sharing the outbox through leases; on PostgreSQL each is woken the
moment a notification commits);
``notify status ID`` prints every attempt of one notification; ``notify log`` prints or writes
the delivery log CSV; ``notify enable NAME`` re-enables a destination a 410 disabled.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy.engine import Engine

from agent_platform.config import Settings
from agent_platform.db import create_engine_for
from agent_platform.errors import InvalidInputError
from agent_platform.notifications.dispatcher import Dispatcher
from agent_platform.notifications.ids import as_utc, utc_now
from agent_platform.notifications.outbox import enable_destination
from agent_platform.notifications.publisher import load_notifications_config
from agent_platform.notifications.status import (
    delivery_log,
    notification_status,
    write_delivery_log_csv,
)

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("notify", help="deliver and inspect notifications")
    commands = parser.add_subparsers(dest="notify_command", required=True, metavar="ACTION")

    dispatch = commands.add_parser("dispatch", help="deliver pending notifications")
    dispatch.add_argument("--config", type=Path, help="notifications YAML (default: configs/)")
    dispatch.add_argument("--until-idle", action="store_true", help="exit when nothing is pending")
    dispatch.add_argument("--max-seconds", type=float, help="exit after this many seconds")
    dispatch.add_argument("--worker-id", help="lease owner name (default: host-pid-random)")
    dispatch.set_defaults(handler=run_dispatch)

    status = commands.add_parser("status", help="every attempt of one notification")
    status.add_argument("notification_id")
    status.set_defaults(handler=run_status)

    log = commands.add_parser("log", help="the delivery log (CSV)")
    log.add_argument("--since", help="only attempts at or after this ISO 8601 time")
    log.add_argument("--csv", type=Path, help="write the CSV here instead of stdout")
    log.set_defaults(handler=run_log)

    enable = commands.add_parser("enable", help="re-enable a destination disabled by a 410")
    enable.add_argument("destination")
    enable.set_defaults(handler=run_enable)


@contextmanager
def _engine() -> Iterator[Engine]:
    """The configured database's engine, disposed (its pool closed) when the command ends."""
    engine = create_engine_for(Settings.from_env().effective_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def run_dispatch(args: argparse.Namespace) -> int:
    config_path = args.config
    config = load_notifications_config(config_path)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    file = str(config_path) if config_path else "configs/notifications.yaml"
    with (
        _engine() as engine,
        Dispatcher(engine, config, config_file=file, worker_id=args.worker_id) as dispatcher,
    ):
        stats = dispatcher.run(until_idle=args.until_idle, max_seconds=args.max_seconds, stop=stop)
        pending = dispatcher.pending()
    print(json.dumps({**asdict(stats), "pending": pending}, sort_keys=True))
    return 0


def run_status(args: argparse.Namespace) -> int:
    with _engine() as engine:
        status = notification_status(engine, args.notification_id)
    print(json.dumps(asdict(status), indent=2, sort_keys=True))
    return 0 if status.destinations else 1


def run_log(args: argparse.Namespace) -> int:
    since = _parse_since(args.since) if args.since else None
    with _engine() as engine:
        rows = delivery_log(engine, since)
    if args.csv:
        write_delivery_log_csv(args.csv, rows)
        print(f"wrote {len(rows)} rows to {args.csv}")
        return 0
    print("timestamp,destination,correlation_id,status,latency_ms,attempt")
    for row in rows:
        print(
            f"{row.timestamp},{row.destination},{row.correlation_id},{row.status},"
            f"{row.latency_ms},{row.attempt}"
        )
    return 0


def run_enable(args: argparse.Namespace) -> int:
    with _engine() as engine:
        changed = enable_destination(engine, args.destination, utc_now())
    if not changed:
        raise InvalidInputError(f"no destination state named {args.destination!r}")
    print(f"enabled {args.destination}")
    return 0


def _parse_since(text: str) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError as exc:
        raise InvalidInputError(f"--since {text!r} is not an ISO 8601 time") from exc
