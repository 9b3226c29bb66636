"""``agent-platform ledger list|verify|checkpoint|replay``: the hash-chained ledgers.

``list`` shows every ledger (entries, head, last append, newest signed checkpoint). ``verify``
checks one ledger (``--ledger``) or all of them, including ledgers that only a signed
checkpoint still remembers; it exits 0 when every one is intact and 1 naming the first bad
entry of each that is not. ``checkpoint`` signs the current heads into the checkpoint files
outside the database (see :mod:`agent_platform.state.ledger.anchor`). ``replay`` applies the
entries a consumer has not yet applied, with a progress bar: ``--apply state`` (default)
rebuilds session state from ``state.saved`` / ``state.deleted`` events; ``--apply count``
only counts events by type. A ledger name that matches nothing is bad input (exit 2) naming
the closest known names, unless a checkpoint names it: then the ledger is missing (exit 1).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent_platform.commands._output import Output
from agent_platform.config import Settings
from agent_platform.errors import InvalidInputError, LedgerIntegrityError
from agent_platform.inputs import clip
from agent_platform.state.backends import Backends, open_backends
from agent_platform.state.consumers import EventCounter, StateProjection
from agent_platform.state.ledger.catalog import closest, ledger_exists, list_ledgers
from agent_platform.state.ledger.entry import check_name
from agent_platform.state.ledger_replay import Ledger, LedgerAnchor, LedgerEntry
from agent_platform.state.ledger_replay import LedgerVerification as Verification
from agent_platform.state.repository import StateRepository

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("ledger", help="list, verify, checkpoint or replay ledgers")
    commands = parser.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    listing = commands.add_parser("list", help="every ledger: entries, head, last append")
    listing.set_defaults(handler=run_list)
    verify = commands.add_parser("verify", help="check chains and signed heads; exit 1 if not")
    verify.add_argument("--ledger", help="one ledger (default: every ledger)")
    verify.set_defaults(handler=run_verify)
    checkpoint = commands.add_parser("checkpoint", help="sign the heads outside the database")
    checkpoint.add_argument("--ledger", help="one ledger (default: every ledger)")
    checkpoint.set_defaults(handler=run_checkpoint)
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


@contextmanager
def _opened() -> Iterator[tuple[Backends, LedgerAnchor]]:
    anchor = LedgerAnchor.from_env()
    backends = open_backends(Settings.from_env())
    try:
        yield backends, anchor
    finally:
        backends.close()


def _resolve(backends: Backends, anchor: LedgerAnchor, name: str) -> str:
    """``name`` if the database or a checkpoint knows it, else InvalidInputError naming the
    closest known names."""
    check_name("--ledger", name)
    if ledger_exists(backends.engine, name):
        return name
    if name in anchor.ledgers(anchor.scope_for(backends.engine)):
        return name  # its checkpoints outlive it: verification reports it missing
    known = [summary.name for summary in list_ledgers(backends.engine)]
    near = closest(name, known)
    if near:
        hint = "closest: " + ", ".join(repr(n) for n in near)
    else:
        hint = f"{len(known)} ledger(s) exist" if known else "the database holds no ledger yet"
    raise InvalidInputError(
        f"--ledger: no ledger {clip(name)} in the {backends.database} database; {hint} "
        "(agent-platform ledger list shows them all)"
    )


def _names(
    backends: Backends, anchor: LedgerAnchor, name: str | None, *, remembered: bool
) -> list[str]:
    """``[name]`` once resolved, or every ledger of the database (and, ``remembered``, every
    one a checkpoint still names)."""
    if name is not None:
        return [_resolve(backends, anchor, name)]
    known = {summary.name for summary in list_ledgers(backends.engine)}
    if remembered:
        known |= set(anchor.ledgers(anchor.scope_for(backends.engine)))
    return sorted(known)


def _anchored(result: Verification) -> str:
    summary = result.anchor
    if summary is None or not summary["checkpoints"]:
        return "no signed checkpoint yet"
    text = f"anchored at seq {summary['newest_seq']}"
    after = summary["entries_after_newest"]
    return text + (f", {after} later entries rest on the chain alone" if after else "")


def _verdict(result: Verification, database: str) -> str:
    if result.ok:
        return (
            f"ledger {result.ledger!r} intact: {result.entries_checked} entries, head seq "
            f"{result.recorded_head_seq}, {_anchored(result)}, verified in "
            f"{result.elapsed_s:.3f} s ({database})"
        )
    where = f" at seq {result.first_bad_seq}" if result.first_bad_seq is not None else ""
    return (
        f"ledger {result.ledger!r} FAILED{where}: {result.reason} "
        f"({result.entries_checked} entries intact before it)"
    )


def run_verify(args: argparse.Namespace) -> int:
    output: Output = args.output
    with _opened() as (backends, anchor):
        names = _names(backends, anchor, args.ledger, remembered=True)
        results = [Ledger(backends.engine, n, anchor=anchor).verify() for n in names]
    for result in results:
        output.say(_verdict(result, backends.database))
    failed = [r.ledger for r in results if not r.ok]
    if args.ledger is None:
        output.say(
            f"verified {len(results)} ledger(s): {len(results) - len(failed)} intact, "
            f"{len(failed)} failed ({backends.database})"
        )
    output.result(
        {
            "database": backends.database,
            "verified": len(results),
            "failed": failed,
            "ok": not failed,
            "ledgers": [r.as_dict() for r in results],
        }
    )
    return 1 if failed else 0


def run_list(args: argparse.Namespace) -> int:
    output: Output = args.output
    with _opened() as (backends, anchor):
        summaries = list_ledgers(backends.engine)
        scope = anchor.scope_for(backends.engine)
        signed = {s.name: anchor.view(scope, s.name).newest for s in summaries}
    table = Table(title=f"ledgers ({backends.database})")
    for column in ("ledger", "entries", "head seq", "head hash", "last append", "signed seq"):
        table.add_column(column, justify="right" if column in ("entries", "head seq") else "left")
    rows = []
    for summary in summaries:
        checkpoint = signed[summary.name]
        row = summary.as_dict() | {"checkpoint_seq": checkpoint.seq if checkpoint else None}
        rows.append(row)
        table.add_row(
            summary.name,
            str(summary.entries),
            "-" if summary.head_seq is None else str(summary.head_seq),
            (summary.head_hash or "-")[:16],
            row["last_append"] or "-",
            "-" if checkpoint is None else str(checkpoint.seq),
        )
    output.console().print(table)
    output.say(f"{len(rows)} ledger(s)")
    output.result({"database": backends.database, "ledgers": rows})
    return 0


def _sign(backends: Backends, anchor: LedgerAnchor, name: str) -> dict[str, Any]:
    scope = anchor.scope_for(backends.engine)
    before = anchor.view(scope, name).newest
    try:
        checkpoint = Ledger(backends.engine, name, anchor=anchor).checkpoint()
    except LedgerIntegrityError as exc:
        return {"ledger": name, "ok": False, "error": str(exc)}
    fresh = checkpoint is not None and checkpoint != before
    return {
        "ledger": name,
        "ok": True,
        "signed": fresh,
        "checkpoint": checkpoint.as_dict() if checkpoint is not None else None,
    }


def _signed_line(done: dict[str, Any], anchor: LedgerAnchor) -> str:
    name, checkpoint = done["ledger"], done.get("checkpoint")
    if not done["ok"]:
        return f"ledger {name!r} NOT signed: {done['error']}"
    if checkpoint is None:
        return f"ledger {name!r}: no entries, nothing to sign"
    if not done["signed"]:
        return f"ledger {name!r}: head seq {checkpoint['seq']} is already signed"
    return (
        f"ledger {name!r}: signed head seq {checkpoint['seq']} ({checkpoint['hash'][:16]}...) "
        f"with key {checkpoint['key_id']} into {anchor.log.path_for(checkpoint['scope'])}"
    )


def run_checkpoint(args: argparse.Namespace) -> int:
    output: Output = args.output
    with _opened() as (backends, anchor):
        names = _names(backends, anchor, args.ledger, remembered=False)
        done = [_sign(backends, anchor, name) for name in names]
    if anchor.generated_key is not None:
        output.say(
            f"generated a new ledger checkpoint key at {anchor.generated_key} (mode 0600); "
            "set AGENT_PLATFORM_LEDGER_KEY to use your own"
        )
    for item in done:
        output.say(_signed_line(item, anchor))
    failed = [item["ledger"] for item in done if not item["ok"]]
    output.result({"ledgers": done, "failed": failed, "ok": not failed})
    return 1 if failed else 0


def run_replay(args: argparse.Namespace) -> int:
    output: Output = args.output
    with _opened() as (backends, anchor):
        ledger = Ledger(backends.engine, _resolve(backends, anchor, args.ledger))
        projection: StateProjection | None = None
        counter = EventCounter()
        if args.apply == "state":
            projection = StateProjection(StateRepository(backends.engine, backends.cache))

        def handle(entry: LedgerEntry) -> None:
            counter(entry)
            if projection is not None:
                projection(entry)

        total = max(0, ledger.head()[0] - ledger.position(args.consumer))
        columns = (TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=output.console()) as progress:
            task = progress.add_task("replay", total=total)
            report = ledger.replay_events(
                args.consumer,
                handle,
                on_progress=lambda applied, _seq: progress.update(task, completed=applied),
            )
    by_type = dict(counter.counts)
    output.say(
        f"consumer {report.consumer!r} on ledger {report.ledger!r}: applied {report.applied} "
        f"entries (seq {report.start_seq} -> {report.last_seq}); by type: {by_type}"
    )
    summary = projection.summary() if projection is not None else None
    if summary is not None:
        output.say(f"state projection: {summary}")
    output.result(
        {
            "ledger": report.ledger,
            "consumer": report.consumer,
            "start_seq": report.start_seq,
            "last_seq": report.last_seq,
            "applied": report.applied,
            "by_type": by_type,
            "state_projection": summary,
        }
    )
    return 0
