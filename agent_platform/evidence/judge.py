"""Holding one figure to its threshold: sample size, interval, backend and verdict.

The gate calls :func:`judge` for every threshold of the contract and records what it returns
under ``subsystems.<name>.judged.<figure>``:

- every figure states its ``kind`` (``deterministic`` or ``timed``, from the contract), its
  ``statistic`` and the ``backend`` its workload ran on;
- a rate states ``k``, ``n`` and its Wilson 95 % ``interval``; a ``>=`` threshold passes only
  when the interval's lower bound clears it, a ``<=`` threshold only when the upper bound
  does. A threshold of 100 % (or 0 %) is a claim about every trial measured: it passes only
  when all ``n`` trials succeeded (or none did), since no finite sample puts the bound there.
  A rate whose ``n`` cannot be found fails: a point value alone does not support the claim;
- a percentile states its ``n`` when the workload gives it;
- a threshold written for Redis or PostgreSQL and met on another backend (the in-process
  cache, SQLite) is labelled ``met_on_substitute`` (``measured_on_substitute`` when it fails).

Sample sizes travel with the figures as ``X__k`` / ``X__n`` (see
:mod:`agent_platform.evidence.formats`); every format writes them. :data:`LEGACY_SAMPLE_SIZES`
is the fallback for evidence trees written before it did, which named the count otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agent_platform.evidence.contract_model import Threshold, meets
from agent_platform.evidence.csvio import round_ratio
from agent_platform.evidence.formats import NOT_MEASURED
from agent_platform.stats import wilson_interval

__all__ = [
    "BACKEND_KEYS",
    "BACKEND_ROLES",
    "LEGACY_SAMPLE_SIZES",
    "Figures",
    "backend_label",
    "judge",
    "sample_size",
    "substitutes",
]

Figures = Mapping[str, float | int | str]

PASS, FAIL = "PASS", "FAIL"


def _count(name: str) -> Callable[[Figures], object]:
    return lambda figures: figures.get(name)


LEGACY_SAMPLE_SIZES: dict[str, Callable[[Figures], object]] = {
    "cache_hit_ratio": _count("get_samples"),
    "get_latency_p95_ms": _count("get_samples"),
    "save_latency_p95_ms": _count("save_samples"),
    "ledger_append_latency_p95_ms": _count("ledger_append_samples"),
    "routing_accuracy": _count("routing_decisions"),
    "routing_decision_latency_p95_ms": _count("routing_decision_samples"),
    "failover_success_rate": _count("failover_requests"),
    "delivery_success_rate": _count("notifications"),
    "correlation_id_coverage": _count("notifications"),
    "graph_loop_latency_p95_ms": _count("measured_runs"),
    "scenario_conformance": lambda f: _difference(f.get("scenarios_run"), f.get("unscripted_runs")),
    "eu_compliance_rate": _count("vendors_checked"),
}
"""Where earlier evidence trees gave a figure's ``n`` under another name (used when ``X__n`` is
absent)."""

BACKEND_ROLES: dict[str, tuple[str, ...]] = {
    "redis": ("cache", "budget_store"),
    "postgresql": ("database", "budget_store"),
}
"""Which manifest ``backends`` keys hold the backend a threshold written for X was meant for."""

_DISPLAY = {"memory": "in-process cache"}


def _difference(total: object, part: object) -> object:
    if isinstance(total, int) and isinstance(part, int):
        return total - part
    return None


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def sample_size(figures: Figures, name: str) -> tuple[int | None, int | None]:
    """``(k, n)`` of figure ``name``: ``X__k``/``X__n`` first, then the legacy table.

    ``k`` is None when only ``n`` is known (the caller derives it from a rate's value).
    """
    n = _integer(figures.get(f"{name}__n"))
    if n is None and name in LEGACY_SAMPLE_SIZES:
        n = _integer(LEGACY_SAMPLE_SIZES[name](figures))
    return _integer(figures.get(f"{name}__k")), n


BACKEND_KEYS: tuple[str, ...] = ("budget_store", "cache", "clock", "database", "receivers")
"""The manifest ``backends`` keys that name what a figure ran on (config paths aside)."""


def backend_label(backends: Mapping[str, Any]) -> dict[str, str]:
    """What the workload ran on: its storage, cache, clock and receivers, and whether the LLM
    providers were simulated."""
    out = {k: str(backends[k]) for k in BACKEND_KEYS if isinstance(backends.get(k), str)}
    simulated = backends.get("providers_simulated")
    if isinstance(simulated, bool):
        out["providers"] = "simulated" if simulated else "real"
    return out


def substitutes(written_for: tuple[str, ...], backends: Mapping[str, Any]) -> str | None:
    """``"sqlite for postgresql"`` when the run used another backend than the threshold's."""
    found: list[str] = []
    for wanted in written_for:
        for role in BACKEND_ROLES.get(wanted, ()):
            used = backends.get(role)
            if isinstance(used, str) and used not in written_for:
                label = f"{_DISPLAY.get(used, used)} for {wanted}"
                if label not in found:
                    found.append(label)
    return "; ".join(found) or None


def judge(item: Threshold, figures: Figures, backends: Mapping[str, Any]) -> dict[str, Any]:
    """The judged entry of one threshold (see the module docstring for its keys)."""
    value = figures.get(item.figure, NOT_MEASURED)
    entry: dict[str, Any] = {
        "value": value,
        "kind": item.kind,
        "statistic": item.statistic,
        "threshold": f"{item.op} {item.value:g}",
    }
    if item.statistic == "rate":
        verdict = _judge_rate(item, value, figures, entry)
    else:
        if item.statistic == "percentile":
            entry["n"] = sample_size(figures, item.figure)[1]
        verdict = PASS if meets(value, item) else FAIL
        entry["judged_on"] = "value"
    if value == NOT_MEASURED:
        verdict = NOT_MEASURED
    entry["verdict"] = verdict
    entry["backend"] = backend_label(backends)
    if item.written_for:
        entry["written_for"] = list(item.written_for)
        swapped = substitutes(item.written_for, backends)
        if swapped is not None:
            key = "met_on_substitute" if verdict == PASS else "measured_on_substitute"
            entry[key] = swapped
    return entry


def _judge_rate(
    item: Threshold, value: float | int | str, figures: Figures, entry: dict[str, Any]
) -> str:
    k, n = sample_size(figures, item.figure)
    if isinstance(value, bool) or not isinstance(value, int | float):
        entry.update(k=k, n=n)
        return NOT_MEASURED
    if n is None or n < 1:
        entry.update(
            k=k, n=n, problem="rate reported without its n: the point value alone is not judged"
        )
        return FAIL
    if k is None:
        k = round(float(value) * n)
    entry.update(k=k, n=n)
    if not 0 <= k <= n or round_ratio(k / n) != round_ratio(float(value)):
        entry["problem"] = f"value {value} is not k/n = {k}/{n}"
        return FAIL
    low, high = wilson_interval(k, n)
    entry["interval"] = [round_ratio(low), round_ratio(high)]
    return PASS if _rate_passes(item, k, n, low, high, entry) else FAIL


def _rate_passes(
    item: Threshold, k: int, n: int, low: float, high: float, entry: dict[str, Any]
) -> bool:
    if item.op in (">=", ">") and item.value >= 1.0:
        entry["judged_on"] = "every trial"
        return k == n and item.op == ">="
    if item.op in ("<=", "<") and item.value <= 0.0:
        entry["judged_on"] = "every trial"
        return k == 0 and item.op == "<="
    if item.op in (">=", ">"):
        entry["judged_on"] = "interval lower bound"
        return meets(low, item)
    if item.op in ("<=", "<"):
        entry["judged_on"] = "interval upper bound"
        return meets(high, item)
    entry["judged_on"] = "value"
    return meets(k / n, item)
