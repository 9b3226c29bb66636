"""``notifications/delivery_log.csv``: every delivery attempt to the loopback receivers.

One row per attempt (``attempt`` counts from 1), plus one ``status=pending`` row (``attempt``
0, blank latencies) for every published (notification, destination) pair that was never
attempted, so the file holds every published pair. ``latency_ms`` is the attempt's own
duration (the receiver's answer time); ``end_to_end_ms`` is the time from publish to the end
of that attempt, retries and backoff included.

``receiver_fault`` is the fault the receiver injected into that attempt (blank: none);
``receiver_refused`` is true on every row of a pair whose receiver answered one of its
messages with a permanent refusal (an SMTP 5xx of the fault mix: by RFC 5321 not to be retried,
so no notifier can deliver that pair); ``time_scale`` is the factor the run compressed time by.

- ``delivery_success_rate`` (``__k``/``__n``): pairs with a ``delivered`` attempt over the pairs
  the receiver did not refuse permanently (pending pairs count as not delivered);
  ``delivery_success_rate_all_pairs`` is the same over every pair, refusals included, and
  ``receiver_refused_pairs`` counts the refusals.
- ``delivery_latency_p95_ms`` (``__n``): p95 over the delivered pairs of the time from publish
  to delivery in simulated time: the delivered attempt's ``end_to_end_ms`` with the compressed
  parts stretched back by ``1 / time_scale``. Compressed are every gap between two attempts of
  the pair (backoff, ``Retry-After``, an open circuit, the poll; any queueing in a gap is
  stretched too, so this errs long) and every attempt the receiver held (a ``slow`` answer or a
  ``timeout``); the rest (publish to first attempt, ordinary answers) is real time.
- ``correlation_id_coverage`` (``__k``/``__n``): pairs whose receiver captured the correlation
  id over the same pairs as the success rate. ``correlation_id`` is the id the loopback
  receiver actually captured for the pair
  (webhook body and header, Slack body and header, e-mail subject and body; blank when
  nothing carrying it arrived); ``published_correlation_id`` is the id the outbox published,
  and when it is given the captured id must equal it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from agent_platform.errors import EvidenceError
from agent_platform.evidence.csvio import (
    fmt_ms,
    parse_bool,
    parse_float,
    parse_int,
    read_csv,
    round_ms,
    round_ratio,
    write_csv,
)
from agent_platform.evidence.formats import NOT_MEASURED
from agent_platform.stats import percentile

__all__ = [
    "COLUMNS",
    "DELIVERED",
    "HELD_FAULTS",
    "PENDING",
    "PERMANENT_FAULTS",
    "DeliveryRow",
    "figures",
    "write",
]

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
    "receiver_fault",
)
DELIVERED = "delivered"
PENDING = "pending"
#: Receiver faults no notifier can get past (not to be retried), and those that hold an
#: attempt for a compressed time (the receiver waits a scaled time before answering or never
#: answers until the scaled client timeout).
PERMANENT_FAULTS = ("554",)
HELD_FAULTS = ("slow", "timeout")


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
    receiver_fault: str = ""


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
                "receiver_fault": r.receiver_fault,
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
    attempts: list[tuple[int, datetime, float, str]] = field(default_factory=list)
    end_to_end_ms: float = 0.0
    time_scale: float = 1.0

    def simulated_ms(self) -> float:
        """Publish to delivery in simulated time (see the module docstring)."""
        compressed = 0.0
        ordered = sorted(self.attempts)
        for (_, start, took, fault), nxt in zip(ordered, [*ordered[1:], None], strict=True):
            if fault in HELD_FAULTS:
                compressed += took
            if nxt is not None:
                gap = (nxt[1] - start).total_seconds() * 1000.0 - took
                compressed += max(0.0, gap)
        return self.end_to_end_ms + compressed * (1.0 / self.time_scale - 1.0)


def _add(path: Path, line: int, row: dict[str, str], pair: _Pair) -> None:
    pair.covered = pair.covered or _carried(row)
    pair.refused = pair.refused or parse_bool(
        path, line, "receiver_refused", row["receiver_refused"]
    )
    if row["status"] == PENDING:
        return
    took = parse_float(path, line, "latency_ms", row["latency_ms"])
    when = _timestamp(path, line, row["timestamp"])
    pair.attempts.append(
        (parse_int(path, line, "attempt", row["attempt"]), when, took, row["receiver_fault"])
    )
    if row["status"] == DELIVERED and not pair.delivered:
        pair.delivered = True
        pair.time_scale = parse_float(path, line, "time_scale", row["time_scale"])
        if not 0 < pair.time_scale <= 1:
            raise EvidenceError(f"{path}: row {line}: time_scale={pair.time_scale} not in (0, 1]")
        pair.end_to_end_ms = parse_float(path, line, "end_to_end_ms", row["end_to_end_ms"])


def _timestamp(path: Path, line: int, raw: str) -> datetime:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise EvidenceError(f"{path}: row {line}: timestamp={raw!r} is not ISO 8601") from exc


def _pairs(path: Path) -> tuple[dict[tuple[str, str], _Pair], list[dict[str, str]]]:
    rows = read_csv(path, COLUMNS)
    pairs: dict[tuple[str, str], _Pair] = {}
    for line, row in enumerate(rows, start=2):
        _add(
            path, line, row, pairs.setdefault((row["notification_id"], row["destination"]), _Pair())
        )
    return pairs, rows


def _rate(name: str, k: int, n: int) -> dict[str, float | int | str]:
    return {name: round_ratio(k / n) if n else NOT_MEASURED, f"{name}__k": k, f"{name}__n": n}


def figures(path: Path) -> dict[str, float | int | str]:
    """Success rate and correlation-id coverage over the deliverable pairs, p95 latency of the
    delivered ones in simulated time."""
    pairs, rows = _pairs(path)
    eligible = [p for p in pairs.values() if not p.refused]
    latencies = [p.simulated_ms() for p in pairs.values() if p.delivered]
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
