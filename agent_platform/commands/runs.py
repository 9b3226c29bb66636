"""``agent-platform runs list``: the recent agent runs of the configured database.

Each row is one run's ledger read back (see :mod:`agent_platform.orchestration.run_catalog`):
run id, task, outcome (approved, rejected, paused), cost and duration. The run id is what
``agent-platform replay RUN_ID`` and ``run --resume RUN_ID`` take.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from agent_platform.commands._output import Output
from agent_platform.config import Settings
from agent_platform.orchestration.run_catalog import RunSummary, recent_runs
from agent_platform.preflight import check_backends
from agent_platform.state.backends import open_backends

__all__ = ["register"]

MAX_LIMIT = 10_000


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: an integer 1..{MAX_LIMIT}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("runs", help="list recent agent runs")
    commands = parser.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    listing = commands.add_parser("list", help="recent runs: id, task, outcome, cost, duration")
    listing.add_argument(
        "--limit", type=_limit, default=20, help="how many runs, newest first (default 20)"
    )
    listing.set_defaults(handler=run_list)


def _cost(run: RunSummary) -> str:
    return "-" if run.cost_eur is None else f"{run.cost_eur:.6f}"


def _duration(run: RunSummary) -> str:
    return "-" if run.duration_s is None else f"{run.duration_s:.1f} s"


def _table(runs: list[RunSummary], database: str) -> Table:
    table = Table(title=f"agent runs ({database}), newest first")
    for column in ("run id", "task", "outcome", "cost EUR", "duration", "started"):
        table.add_column(column, justify="right" if column in ("cost EUR", "duration") else "left")
    for run in runs:
        started = run.started_at.strftime("%Y-%m-%d %H:%M:%S") if run.started_at else "-"
        table.add_row(run.run_id, run.task, run.outcome, _cost(run), _duration(run), started)
    return table


def run_list(args: argparse.Namespace) -> int:
    output: Output = args.output
    settings = Settings.from_env()
    check_backends(settings, with_redis=False)
    backends = open_backends(settings)
    try:
        runs = recent_runs(backends.engine, args.limit)
    finally:
        backends.close()
    if runs:
        output.console().print(_table(runs, backends.database))
    output.say(f"{len(runs)} run(s) in the {backends.database} database")
    output.result({"database": backends.database, "runs": [r.as_dict() for r in runs]})
    return 0
