"""``agent-platform budget status`` and ``agent-platform simulator serve``.

``budget status`` prints the active phase's caps, spend, holds and what is left on the
configured backends; ``simulator serve`` runs the provider simulator (simulated traffic) on
loopback until interrupted or for ``--seconds``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from agent_platform.config import Settings
from agent_platform.finops import WindowStatus
from agent_platform.finops.factory import budget_from_settings
from agent_platform.inputs import clip
from agent_platform.migrate import upgrade
from agent_platform.models.simulation_profile import load_profile
from agent_platform.models.simulator import ProviderSimulator
from agent_platform.preflight import check_backends

__all__ = ["non_negative_seconds", "port_number", "register"]


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
    serve.add_argument("--port", type=port_number, default=0, help="0..65535 (0: a free port)")
    serve.add_argument(
        "--seconds", type=non_negative_seconds, default=None, help="stop after this long"
    )
    serve.set_defaults(handler=run_serve)


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0..65535 (0 asks the system for a free one)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {clip(text)}; allowed: a port 0..65535") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"got {port}; allowed: a port 0..65535")
    return port


def non_negative_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds, zero or more."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"got {clip(text)}; allowed: seconds, 0 or more")
    return seconds


def run_status(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    check_backends(settings)
    upgrade(settings.effective_database_url)
    budget, close = budget_from_settings(settings, phase=args.phase)
    try:
        status = budget.get_remaining_budget()
    finally:
        close()
    out = args.output
    out.say(f"phase {status.phase} on {budget.backend} at {status.as_of.isoformat()}")
    for window in (status.day, status.month):
        out.say(
            f"  {window.key}: cap {window.cap} EUR, committed {window.committed}, "
            f"reserved {window.reserved}, remaining {window.remaining}"
        )
    for window in status.tokens.values():
        out.say(f"  {window.key}: ceiling {window.cap} tokens, used {window.committed}")
    out.result(
        {
            "phase": status.phase,
            "backend": budget.backend,
            "as_of": status.as_of.isoformat(),
            "eur": [_window(w) for w in (status.day, status.month)],
            "tokens": [_window(w) for w in status.tokens.values()],
        }
    )
    return 0


def _window(window: WindowStatus) -> dict[str, str]:
    """One window as JSON; amounts stay decimal strings so no cent is rounded."""
    return {
        "key": window.key,
        "cap": str(window.cap),
        "committed": str(window.committed),
        "reserved": str(window.reserved),
        "remaining": str(window.remaining),
    }


def run_serve(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    path = Path(args.profile)
    profile = load_profile(path if path.is_absolute() else settings.root / path)
    out = args.output
    with ProviderSimulator(profile, port=args.port) as sim:
        out.say(f"provider simulator (SIMULATED traffic) on {sim.base_url}")
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
        served = len(sim.requests())
        out.say(f"served {served} simulated requests")
        out.result({"base_url": sim.base_url, "requests": served, "simulated": True})
    return 0
