"""``agent-platform workload state-fabric``: a measured run of the state fabric.

Runs the state-fabric workload (:mod:`agent_platform.evidence.workloads.state_fabric`, the
same driver the evidence job runs, on one round of its declared access pattern) against the configured
backends (embedded default: SQLite + in-process cache; with the environment set: PostgreSQL +
Redis), with the ledger anchored as the environment configures it, and shows what it measured
as a table; ``--json`` writes the figures as one JSON document instead (the table then goes to
stderr). Exit 1 when the ledger or the state failed verification.
"""

from __future__ import annotations

import argparse
import math
import time
import uuid
from typing import Any

from rich.table import Table

from agent_platform.commands._output import Output
from agent_platform.config import Settings
from agent_platform.evidence.workloads.state_fabric import (
    AccessPattern,
    StateFabricRun,
    run_state_fabric,
)
from agent_platform.state.backends import Backends, open_backends
from agent_platform.state.ledger_replay import LedgerAnchor
from agent_platform.stats import summarize

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("workload", help="run a measured workload")
    kinds = parser.add_subparsers(dest="workload", required=True, metavar="WORKLOAD")
    fabric = kinds.add_parser("state-fabric", help="saves, skewed gets, ledger appends, verify")
    fabric.add_argument("--iterations", type=int, default=2000, help="operations (default 2000)")
    fabric.add_argument("--sessions", type=int, default=200, help="distinct sessions (default 200)")
    fabric.set_defaults(handler=run_state_fabric_command)


def _ms(summary: dict[str, float] | None, key: str) -> str:
    if not summary:
        return "NOT_MEASURED"
    value = summary[key]
    return "NOT_MEASURED" if math.isnan(value) else f"{value:.3f} ms"


def _table(result: dict[str, Any]) -> Table:
    table = Table(title="state fabric workload (measured in this run)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    backends = result["backends"]
    table.add_row("backends", f"{backends['database']} + {backends['cache']} cache")
    for op in ("get", "save"):
        for q in ("p50", "p95", "p99"):
            table.add_row(f"{op} {q}", _ms(result[f"{op}_ms"], q))
    table.add_row("cache hit ratio", f"{result['hit_ratio']:.4f}")
    table.add_row("cache fallbacks / errors", f"{result['fallbacks']} / {result['cache_errors']}")
    table.add_row("ledger", f"{result['ledger']} ({result['ledger_appends']} appends this run)")
    table.add_row("ledger append p95", _ms(result["ledger_append_ms"], "p95"))
    signed = result["ledger_checkpoint_seq"]
    table.add_row("ledger head signed", "no" if signed is None else f"at seq {signed}")
    verdict = "ok" if result["ledger_verify_ok"] else f"FAILED: {result['ledger_reason']}"
    table.add_row(
        "ledger verify",
        f"{verdict}: {result['ledger_verify_entries']} entries in "
        f"{result['ledger_verify_s'] * 1000:.1f} ms",
    )
    table.add_row(
        "state integrity",
        f"{'ok' if result['state_integrity_ok'] else 'FAILED'}: "
        f"{result['state_integrity_checked']} rows in {result['state_integrity_s'] * 1000:.1f} ms",
    )
    return table


def _figures(run: StateFabricRun, backends: Backends, workload_s: float) -> dict[str, Any]:
    """The run's measured figures, then the ledger's and the state's verification."""
    by_op = {
        op: [s.latency_ms for s in run.samples if s.operation == op]
        for op in ("get", "save", "ledger_append")
    }
    stats = run.repository.stats()
    started = time.perf_counter()
    checkpoint = run.ledger.checkpoint() if run.ledger.anchor is not None else None
    verification = run.ledger.verify()
    integrity_started = time.perf_counter()
    integrity = run.repository.verify_integrity()
    return {
        "backends": backends.describe(),
        "pattern": run.pattern.declared(),
        "workload_s": workload_s,
        "get_ms": summarize(by_op["get"]) if by_op["get"] else None,
        "save_ms": summarize(by_op["save"]) if by_op["save"] else None,
        "hits": stats.hits,
        "misses": stats.misses,
        "hit_ratio": stats.hit_ratio,
        "fallbacks": stats.fallbacks,
        "cache_errors": stats.cache_errors,
        "ledger": run.ledger.name,
        "ledger_appends": len(by_op["ledger_append"]),
        "ledger_append_ms": summarize(by_op["ledger_append"]) if by_op["ledger_append"] else None,
        "ledger_verify_ok": verification.ok,
        "ledger_verify_entries": verification.entries_checked,
        "ledger_verify_s": verification.elapsed_s,
        "ledger_first_bad_seq": verification.first_bad_seq,
        "ledger_reason": verification.reason,
        "ledger_checkpoint_seq": checkpoint.seq if checkpoint is not None else None,
        "ledger_checkpoint_s": integrity_started - started,
        "state_integrity_ok": integrity.ok,
        "state_integrity_checked": integrity.checked,
        "state_integrity_s": time.perf_counter() - integrity_started,
    }


def run_state_fabric_command(args: argparse.Namespace) -> int:
    output: Output = args.output
    pattern = AccessPattern(sessions=args.sessions, operations=args.iterations)
    anchor = LedgerAnchor.from_env()
    backends = open_backends(Settings.from_env())
    try:
        started = time.perf_counter()
        run = run_state_fabric(
            backends.engine, backends.cache, pattern, tag=uuid.uuid4().hex[:10], anchor=anchor
        )
        result = _figures(run, backends, time.perf_counter() - started)
    finally:
        backends.close()
    if anchor.generated_key is not None:
        output.say(f"generated a new ledger checkpoint key at {anchor.generated_key} (mode 0600)")
    output.console().print(_table(result))
    output.result(result)
    return 0 if result["ledger_verify_ok"] and result["state_integrity_ok"] else 1
