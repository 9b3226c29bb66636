"""``agent-platform budget status`` and ``agent-platform simulator serve``.

``budget status`` prints the active phase's caps, spend, holds and what is left on the
configured backends; ``simulator serve`` runs the provider simulator (simulated traffic) on
loopback until interrupted or for ``--seconds``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from agent_platform.config import Settings
from agent_platform.finops.factory import budget_from_settings
from agent_platform.migrate import upgrade
from agent_platform.models.simulation_profile import load_profile
from agent_platform.models.simulator import ProviderSimulator

__all__ = ["register"]


def register(subparsers: Any) -> None:
    budget = subparsers.add_parser("budget", help="FinOps budget commands")
    budget_sub = budget.add_subparsers(dest="budget_command", required=True)
    status = budget_sub.add_parser("status", help="caps, spend and remaining budget")
    status.add_argument("--phase", type=int, default=None, help="phase (default: active_phase)")
    status.set_defaults(handler=run_status)
    sim = subparsers.add_parser("simulator", help="the provider simulator (simulated traffic)")
    sim_sub = sim.add_subparsers(dest="simulator_command", required=True)
    serve = sim_sub.add_parser("serve", help="serve the OpenAI and Anthropic APIs on loopback")
    serve.add_argument("--profile", default="configs/simulation/default.yaml")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--seconds", type=float, default=None, help="stop after this long")
    serve.set_defaults(handler=run_serve)


def run_status(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    upgrade(settings.effective_database_url)
    budget, close = budget_from_settings(settings, phase=args.phase)
    try:
        status = budget.get_remaining_budget()
    finally:
        close()
    print(f"phase {status.phase} on {budget.backend} at {status.as_of.isoformat()}")
    for window in (status.day, status.month):
        print(
            f"  {window.key}: cap {window.cap} EUR, committed {window.committed}, "
            f"reserved {window.reserved}, remaining {window.remaining}"
        )
    for window in status.tokens.values():
        print(f"  {window.key}: ceiling {window.cap} tokens, used {window.committed}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    path = Path(args.profile)
    profile = load_profile(path if path.is_absolute() else settings.root / path)
    with ProviderSimulator(profile, port=args.port) as sim:
        print(f"provider simulator (SIMULATED traffic) on {sim.base_url}", flush=True)
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
        print(f"served {len(sim.requests())} simulated requests")
    return 0
