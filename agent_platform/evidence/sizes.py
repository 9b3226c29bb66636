"""Workload sizes per scale: the one table the assets run and the validator checks against.

``full`` is what ``agent-platform gate`` runs; ``reduced`` is for runs against shared servers.
The sizes a run used are recorded in each workload's manifest (with the scale's name) and in
the gate; the validator rejects a manifest whose sizes are not its scale's row here, so the
files of a reduced run cannot stand under a gate that says full. It lives in the library, not
in ``assets/``, so the validator reads it without importing Dagster.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCALES", "SIZES", "expected_sizes"]

# Both scales replay the whole 30-day month, so the monthly cap's first refusal (and with it
# the alert lead time) is observed at either scale.
SIZES: dict[str, dict[str, dict[str, int]]] = {
    "full": {
        "state_fabric": {"rounds": 3, "sessions": 100, "operations": 2000},
        "router_decisions": {"decisions": 300},
        "router_failover": {"requests": 600},
        "notifications": {"notifications": 400},
        "finops": {"days": 30},
        "budget_concurrency": {"workers": 64},
        "orchestration": {"warmup": 1, "repeats": 8},
        "packages": {},
        "residency": {},
    },
    "reduced": {
        "state_fabric": {"rounds": 2, "sessions": 40, "operations": 800},
        "router_decisions": {"decisions": 120},
        "router_failover": {"requests": 200},
        "notifications": {"notifications": 40},
        "finops": {"days": 30},
        "budget_concurrency": {"workers": 64},
        "orchestration": {"warmup": 1, "repeats": 2},
        "packages": {},
        "residency": {},
    },
}
SCALES: tuple[str, ...] = tuple(SIZES)


def expected_sizes(scale: str, workload: str) -> dict[str, Any] | None:
    """What a manifest of ``workload`` at ``scale`` records as its sizes (None: unknown)."""
    row = SIZES.get(scale, {}).get(workload)
    return None if row is None else {"scale": scale, **row}
