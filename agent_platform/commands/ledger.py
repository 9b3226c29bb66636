"""``agent-platform ledger verify|replay``: check the hash chain, replay it into a consumer.

``verify`` exits 0 when the ledger is intact and 1 naming the first bad entry. ``replay``
applies the entries a consumer has not yet applied, with a progress bar: ``--apply state``
(default) rebuilds session state from ``state.saved`` / ``state.deleted`` events through the
state repository; ``--apply count`` only counts events by type.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agent_platform.config import Settings
from agent_platform.state.backends import open_backends
from agent_platform.state.consumers import EventCounter, StateProjection
from agent_platform.state.ledger_replay import Ledger, LedgerEntry
from agent_platform.state.repository import StateRepository

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("ledger", help="verify or replay the hash-chained ledger")
    commands = parser.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    verify = commands.add_parser("verify", help="check every entry and link; exit 1 if tampered")
    verify.add_argument("--ledger", default="default", help="ledger name (default: default)")
    verify.set_defaults(handler=run_verify)
    replay = commands.add_parser("replay", help="apply new entries to a named consumer")
    replay.add_argument("--consumer", required=True, help="consumer name (its progress is kept)")
    replay.add_argument("--ledger", default="default", help="ledger name (default: default)")
    replay.add_argument(
        "--apply",
        dest="apply",
        choices=("state", "count"),
        default="state",
        help="state: fold state.* events into the state repository; count: count event types",
    )
    replay.set_defaults(handler=run_replay)


def run_verify(args: argparse.Namespace) -> int:
    backends = open_backends(Settings.from_env())
    try:
        result = Ledger(backends.engine, args.ledger).verify()
    finally:
        backends.close()
    if result.ok:
        print(
            f"ledger {result.ledger!r} intact: {result.entries_checked} entries, head seq "
            f"{result.recorded_head_seq}, verified in {result.elapsed_s:.3f} s ({backends.database})"
        )
        return 0
    print(
        f"ledger {result.ledger!r} FAILED at seq {result.first_bad_seq}: {result.reason} "
        f"({result.entries_checked} entries intact before it)"
    )
    return 1


def run_replay(args: argparse.Namespace) -> int:
    backends = open_backends(Settings.from_env())
    try:
        ledger = Ledger(backends.engine, args.ledger)
        projection: StateProjection | None = None
        counter = EventCounter()
        if args.apply == "state":
            projection = StateProjection(StateRepository(backends.engine, backends.cache))

        def handle(entry: LedgerEntry) -> None:
            counter(entry)
            if projection is not None:
                projection(entry)

        start = ledger.position(args.consumer)
        total = max(0, ledger.head()[0] - start)
        columns = (TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True)) as progress:
            task = progress.add_task("replay", total=total)
            report = ledger.replay_events(
                args.consumer,
                handle,
                on_progress=lambda applied, _seq: progress.update(task, completed=applied),
            )
    finally:
        backends.close()
    print(
        f"consumer {report.consumer!r} on ledger {report.ledger!r}: applied {report.applied} "
        f"entries (seq {report.start_seq} -> {report.last_seq}); by type: {dict(counter.counts)}"
    )
    if projection is not None:
        print(f"state projection: {projection.summary()}")
    return 0
