"""Outcome counts: router failover by provider, notification attempts and retries by destination.

Both are stacked horizontal bars of counted rows, so every bar's length is a number of rows of
the file and the segments add up to it. A category nobody fell into is left out of the legend.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agent_platform.errors import EvidenceError
from agent_platform.evidence.charts._canvas import PALETTE, new_figure, save_png
from agent_platform.evidence.charts._read import rows_of

__all__ = ["delivery_counts", "draw_delivery", "draw_failover", "failover_counts"]

FAILOVER_KINDS = ("answered by the primary", "failed over and answered", "not answered")
DELIVERY_KINDS = (
    "delivered, first attempt",
    "delivered on a retry",
    "failed attempt (retried or given up)",
    "never attempted (pending)",
)
_FAILOVER_COLOURS = (PALETTE[2], PALETTE[1], PALETTE[3])
_DELIVERY_COLOURS = (PALETTE[2], PALETTE[0], PALETTE[3], PALETTE[7])


def _failover_kind(row: dict[str, str]) -> str:
    if row["outcome"] != "success":
        return FAILOVER_KINDS[2]
    return FAILOVER_KINDS[1] if row["primary_failed"] == "true" else FAILOVER_KINDS[0]


def failover_counts(path: Path) -> tuple[dict[str, Counter[str]], Counter[str]]:
    """Per primary provider, requests by outcome; and who answered the failed-over ones."""
    rows = rows_of(path, ("primary_provider", "primary_failed", "outcome", "final_provider"))
    by_primary: dict[str, Counter[str]] = {}
    rescuers: Counter[str] = Counter()
    for row in rows:
        kind = _failover_kind(row)
        by_primary.setdefault(row["primary_provider"] or "(none)", Counter())[kind] += 1
        if kind == FAILOVER_KINDS[1]:
            rescuers[row["final_provider"] or "(none)"] += 1
    return by_primary, rescuers


def _delivery_kind(row: dict[str, str], path: Path) -> str:
    status = row["status"]
    if status == "pending":
        return DELIVERY_KINDS[3]
    if status == "delivered":
        try:
            first = int(row["attempt"]) <= 1
        except ValueError as exc:
            raise EvidenceError(f"{path}: attempt={row['attempt']!r} is not an integer") from exc
        return DELIVERY_KINDS[0] if first else DELIVERY_KINDS[1]
    return DELIVERY_KINDS[2]


def delivery_counts(path: Path) -> dict[str, Counter[str]]:
    """Per destination, delivery-log rows by kind (first-attempt, retried, failed, pending)."""
    rows = rows_of(path, ("destination", "status", "attempt"))
    out: dict[str, Counter[str]] = {}
    for row in rows:
        out.setdefault(row["destination"] or "(none)", Counter())[_delivery_kind(row, path)] += 1
    return out


def _stacked(
    axis: Any, counts: Mapping[str, Counter[str]], kinds: Sequence[str], colours: Sequence[str]
) -> None:
    names = sorted(counts)
    left = [0] * len(names)
    for kind, colour in zip(kinds, colours, strict=True):
        widths = [counts[name][kind] for name in names]
        if any(widths):
            axis.barh(names, widths, left=left, color=colour, label=kind)
            left = [a + b for a, b in zip(left, widths, strict=True)]
    for y, total in enumerate(left):
        axis.annotate(
            str(total),
            (total, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    axis.invert_yaxis()
    axis.grid(axis="x", alpha=0.3)
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def draw_failover(path: Path, out: Path) -> Path:
    """Requests by outcome per primary provider, and the providers that answered failovers."""
    by_primary, rescuers = failover_counts(path)
    if not by_primary:
        raise EvidenceError(f"{path}: no failover requests to draw")
    figure, (left, right) = new_figure(11.0, 4.8, ncols=2)
    _stacked(left, by_primary, FAILOVER_KINDS, _FAILOVER_COLOURS)
    left.set_title("Requests by primary provider and outcome")
    left.set_xlabel("requests")
    names = sorted(rescuers) or ["(no failover answered)"]
    right.barh(names, [rescuers[n] for n in names], color=PALETTE[1])
    right.invert_yaxis()
    right.set_title("Who answered the failed-over requests")
    right.set_xlabel("requests")
    right.grid(axis="x", alpha=0.3)
    figure.suptitle("Router failover outcomes by provider", fontweight="bold")
    return save_png(figure, out)


def draw_delivery(path: Path, out: Path) -> Path:
    """Delivery attempts and retries per destination, stacked by what each attempt did."""
    counts = delivery_counts(path)
    if not counts:
        raise EvidenceError(f"{path}: no delivery rows to draw")
    figure, axis = new_figure(10.0, max(3.0, 1.2 + 0.45 * len(counts)))
    _stacked(axis, counts, DELIVERY_KINDS, _DELIVERY_COLOURS)
    axis.set_xlabel("delivery-log rows (attempts, plus pairs never attempted)")
    axis.set_title("Delivery attempts and retries by destination", fontweight="bold")
    return save_png(figure, out)
