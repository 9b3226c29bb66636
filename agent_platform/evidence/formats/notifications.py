"""``notifications/delivery_log.csv``: every delivery attempt to the loopback receivers.

One row per attempt (``attempt`` counts from 1), plus one ``status=pending`` row (``attempt``
0, blank latencies) for every published (notification, destination) pair that was never
attempted, so the file holds every published pair. ``latency_ms`` is the attempt's own
duration (the receiver's answer time); ``end_to_end_ms`` is the time from publish to the end
of that attempt, retries and backoff included.

``receiver_refused`` is true on every row of a pair whose receiver answered one of its
messages with a permanent refusal (an SMTP 5xx of the fault mix: by RFC 5321 not to be retried,
so no notifier can deliver that pair); ``time_scale`` is the factor the run compressed time by.

- ``delivery_success_rate`` (``__k``/``__n``): pairs with a ``delivered`` attempt over the pairs
  the receiver did not refuse permanently (pending pairs count as not delivered);
  ``delivery_success_rate_all_pairs`` is the same over every pair, refusals included, and
  ``receiver_refused_pairs`` counts the refusals.
- ``delivery_latency_p95_ms`` (``__n``): p95 over the delivered pairs of ``end_to_end_ms``
  divided by ``time_scale``: the time from publish to delivery in simulated time. The division
  stretches the unscaled parts too (network, database), so it is an upper bound.
- ``correlation_id_coverage`` (``__k``/``__n``): pairs whose receiver captured the correlation
  id over the same pairs as the success rate. ``correlation_id`` is the id the loopback
  receiver actually captured for the pair
  (webhook body and header, Slack body and header, e-mail subject and body; blank when
  nothing carrying it arrived); ``published_correlation_id`` is the id the outbox published,
  and when it is given the captured id must equal it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_platform.errors import EvidenceError
from agent_platform.evidence.csvio import (
    fmt_ms,
    parse_bool,
    parse_float,
    read_csv,
    round_ms,
    round_ratio,
    write_csv,
)
from agent_platform.evidence.formats import NOT_MEASURED
from agent_platform.stats import percentile

__all__ = ["COLUMNS", "DELIVERED", "PENDING", "DeliveryRow", "figures", "write"]

COLUMNS = (
    "timestamp",
    "destination",
    "correlation_id",
    "status",
    "latency_ms",
    "attempt",
    "notification_id",
    "channel",
    "end_to_end_ms",
    "published_correlation_id",
    "receiver_refused",
    "time_scale",
)
DELIVERED = "delivered"
PENDING = "pending"


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery attempt as the publisher recorded it (or a never-attempted pair).

    ``correlation_id`` is what the receiver captured for the pair; ``published_correlation_id``
    what the outbox published.
    """

    timestamp: str
    destination: str
    correlation_id: str
    status: str
    latency_ms: float
    attempt: int
    notification_id: str
    channel: str
    end_to_end_ms: float
    published_correlation_id: str = ""
    receiver_refused: bool = False
    time_scale: float = 1.0


def _ms(row: DeliveryRow, value: float) -> str:
    return "" if row.status == PENDING else fmt_ms(value)


def write(path: Path, rows: Sequence[DeliveryRow]) -> int:
    return write_csv(
        path,
        COLUMNS,
        (
            {
                "timestamp": r.timestamp,
                "destination": r.destination,
                "correlation_id": r.correlation_id,
                "status": r.status,
                "latency_ms": _ms(r, r.latency_ms),
                "attempt": r.attempt,
                "notification_id": r.notification_id,
                "channel": r.channel,
                "end_to_end_ms": _ms(r, r.end_to_end_ms),
                "published_correlation_id": r.published_correlation_id,
                "receiver_refused": r.receiver_refused,
                "time_scale": repr(float(r.time_scale)),
            }
            for r in rows
        ),
    )


def _carried(row: dict[str, str]) -> bool:
    captured = row["correlation_id"].strip()
    published = row["published_correlation_id"].strip()
    return bool(captured) and (not published or captured == published)


@dataclass
class _Pair:
    delivered: bool = False
    covered: bool = False
    refused: bool = False
    latency_ms: float | None = None


def _pairs(path: Path) -> tuple[dict[tuple[str, str], _Pair], list[dict[str, str]]]:
    rows = read_csv(path, COLUMNS)
    pairs: dict[tuple[str, str], _Pair] = {}
    for line, row in enumerate(rows, start=2):
        pair = pairs.setdefault((row["notification_id"], row["destination"]), _Pair())
        pair.covered = pair.covered or _carried(row)
        pair.refused = pair.refused or parse_bool(
            path, line, "receiver_refused", row["receiver_refused"]
        )
        if row["status"] == DELIVERED and not pair.delivered:
            pair.delivered = True
            scale = parse_float(path, line, "time_scale", row["time_scale"])
            if not scale > 0:
                raise EvidenceError(f"{path}: row {line}: time_scale={scale} is not > 0")
            end_to_end = parse_float(path, line, "end_to_end_ms", row["end_to_end_ms"])
            pair.latency_ms = end_to_end / scale
    return pairs, rows


def _rate(name: str, k: int, n: int) -> dict[str, float | int | str]:
    return {name: round_ratio(k / n) if n else NOT_MEASURED, f"{name}__k": k, f"{name}__n": n}


def figures(path: Path) -> dict[str, float | int | str]:
    """Success rate and correlation-id coverage over the deliverable pairs, p95 latency of the
    delivered ones in simulated time."""
    pairs, rows = _pairs(path)
    eligible = [p for p in pairs.values() if not p.refused]
    latencies = [p.latency_ms for p in pairs.values() if p.latency_ms is not None]
    out: dict[str, float | int | str] = {}
    out.update(_rate("delivery_success_rate", sum(p.delivered for p in eligible), len(eligible)))
    out.update(
        _rate(
            "delivery_success_rate_all_pairs",
            sum(p.delivered for p in pairs.values()),
            len(pairs),
        )
    )
    out.update(_rate("correlation_id_coverage", sum(p.covered for p in eligible), len(eligible)))
    out["delivery_latency_p95_ms"] = (
        round_ms(percentile(latencies, 95)) if latencies else NOT_MEASURED
    )
    out["delivery_latency_p95_ms__n"] = len(latencies)
    out["receiver_refused_pairs"] = sum(p.refused for p in pairs.values())
    out["notifications"] = len(pairs)
    out["pending_pairs"] = sum(r["status"] == PENDING for r in rows)
    out["attempts"] = sum(r["status"] != PENDING for r in rows)
    return out
