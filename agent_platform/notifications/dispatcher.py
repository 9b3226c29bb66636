"""The dispatcher: drains the outbox, delivers concurrently, retries, and keeps circuits.

Each pass claims due rows under a lease, sends them through their channels on a thread pool
(concurrently across and within destinations, each attempt bounded by its destination's
timeout), and records every attempt as it completes. Delivery is at-least-once: a dispatcher
that dies leaves leased rows that become due again when the lease expires, and the receiver
recognises a repeat by its ``webhook-id`` (the outbox row id). A 410 disables the destination;
a run of failures opens its circuit for ``circuit.open_s``, after which a single probe (one
across every dispatcher, taken by compare-and-set in the database) decides whether it closes.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from types import TracebackType

import httpx
from sqlalchemy.engine import Engine, RowMapping

from agent_platform.notifications.channels import Channel, SmtpFactory, build_channels
from agent_platform.notifications.destinations import (
    DEFAULT_CONFIG_FILE,
    Redactor,
    resolve_destinations,
)
from agent_platform.notifications.http_sender import HttpSender
from agent_platform.notifications.ids import as_utc, ulid, utc_now
from agent_platform.notifications.outbox import (
    AttemptWrite,
    DestinationCircuit,
    claim_due,
    claim_probe,
    count_pending,
    disable_destination,
    ensure_destination_states,
    extend_lease,
    load_destination_states,
    mark_disabled_rows,
    record_attempts,
    release,
    return_probe,
)
from agent_platform.notifications.outcome import AttemptOutcome, OutcomeKind
from agent_platform.notifications.render import OutboundMessage
from agent_platform.notifications.retry import AttemptStatus, decide
from agent_platform.notifications.ssrf import AddressPolicy, Resolver
from agent_platform.schemas.notifications import NotificationsConfig

__all__ = ["DispatchStats", "Dispatcher"]

logger = logging.getLogger(__name__)

_GROUP_WINDOW_S = 0.005

#: What a worker thread hands back: the outcome, when the attempt started, its latency (ms).
_Result = tuple[AttemptOutcome, datetime, float]


@dataclass
class DispatchStats:
    """Counts of one pass (or, summed, of a run)."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    gone: int = 0
    refused: int = 0
    settled_disabled: int = 0

    def add(self, other: DispatchStats) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


def _default_worker_id() -> str:
    return f"{socket.gethostname()[:24]}-{os.getpid()}-{ulid()[-8:]}"


class Dispatcher:
    """Delivers outbox rows to their destinations; many may run against one database.

    Args:
        engine: the database holding the outbox.
        config: the validated ``configs/notifications.yaml``.
        environ: where ``*_env`` secrets are read (default ``os.environ``).
        worker_id: this dispatcher's lease owner name (default host-pid-random).
        transport: httpx transport for webhook/Slack (the test seam; default a real one).
        resolver: DNS resolver for the SSRF check (default ``getaddrinfo``).
        smtp_factory: opens the SMTP connection to the checked address (default: pinned smtplib).
        channels: ready-made channels by destination name, replacing those built from config.
        rng: the jitter source (seed it for reproducible schedules).
    """

    def __init__(
        self,
        engine: Engine,
        config: NotificationsConfig,
        *,
        environ: Mapping[str, str] | None = None,
        config_file: str = DEFAULT_CONFIG_FILE,
        worker_id: str | None = None,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver | None = None,
        smtp_factory: SmtpFactory | None = None,
        channels: Mapping[str, Channel] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._engine = engine
        self._config = config
        destinations = resolve_destinations(config, environ, config_file=config_file)
        policy = AddressPolicy(config.security.allow_hosts, config.security.allow_cidrs)
        self._sender = HttpSender(policy, transport=transport, resolver=resolver)
        self._channels: dict[str, Channel] = (
            dict(channels)
            if channels is not None
            else build_channels(destinations, sender=self._sender, smtp_factory=smtp_factory)
        )
        redactor = Redactor()
        for destination in destinations.values():
            redactor = redactor.merged(destination.redactor)
        self._redact = redactor
        self.worker_id = worker_id or _default_worker_id()
        self._rng = rng or random.Random()
        self._wake = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._states_ready = False

    @property
    def destinations(self) -> tuple[str, ...]:
        return tuple(self._channels)

    def wake(self) -> None:
        """Cut the current idle wait short (publishers in the same process call this)."""
        self._wake.set()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._sender.close()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def pending(self) -> int:
        """Pending rows (due or scheduled) of the destinations this dispatcher serves."""
        return count_pending(self._engine, self._channels)

    def run(
        self,
        *,
        until_idle: bool = False,
        max_seconds: float | None = None,
        stop: threading.Event | None = None,
    ) -> DispatchStats:
        """Pass after pass until ``stop`` is set, ``max_seconds`` pass, or (``until_idle``)
        nothing is pending any more."""
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        total = DispatchStats()
        while not (stop is not None and stop.is_set()):
            if deadline is not None and time.monotonic() >= deadline:
                break
            stats = self.run_once()
            total.add(stats)
            if stats.claimed:
                continue
            if until_idle and self.pending() == 0:
                break
            wait = self._config.dispatcher.poll_interval_s
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            self._wake.wait(wait)
            self._wake.clear()
        return total

    def run_once(self) -> DispatchStats:
        """One pass: settle disabled destinations, claim due rows, deliver, record."""
        now = utc_now()
        if not self._states_ready:
            ensure_destination_states(self._engine, self._channels, now)
            self._states_ready = True
        stats = DispatchStats()
        states = load_destination_states(self._engine)
        disabled = {n for n in self._channels if n in states and states[n].disabled}
        stats.settled_disabled = mark_disabled_rows(
            self._engine, disabled, "destination disabled after HTTP 410"
        )
        servable, probes = self._servable(states, disabled, now)
        dispatch = self._config.dispatcher
        rows = claim_due(
            self._engine,
            self.worker_id,
            servable,
            now=now,
            lease_s=dispatch.lease_s,
            limit=dispatch.batch_size,
        )
        rows = self._one_row_per_probe(rows, probes, now)
        stats.claimed = len(rows)
        self._deliver(rows, stats)
        return stats

    def _servable(
        self, states: Mapping[str, DestinationCircuit], disabled: set[str], now: datetime
    ) -> tuple[list[str], set[str]]:
        """Destinations to claim rows for, and the half-open ones whose probe this pass won.

        A closed circuit is served; an open one is not; a half-open one only by the dispatcher
        that wins its probe (the others leave it alone until the probe's outcome is recorded).
        """
        threshold = self._config.circuit.failure_threshold
        hold_s = self._config.dispatcher.lease_s
        closed: list[str] = []
        probes: set[str] = set()
        for name in self._channels:
            state = states.get(name)
            if name in disabled or (state is not None and state.is_open(now)):
                continue
            if state is None or not state.is_half_open(now, threshold):
                closed.append(name)
            elif claim_probe(self._engine, name, threshold=threshold, now=now, hold_s=hold_s):
                probes.add(name)
        return closed + sorted(probes), probes

    def _one_row_per_probe(
        self, rows: list[RowMapping], probes: set[str], now: datetime
    ) -> list[RowMapping]:
        """Keep one row as each won probe, release the others; give back probes with no row."""
        keep: list[RowMapping] = []
        spare: list[str] = []
        used: set[str] = set()
        for row in rows:
            name = row["destination"]
            if name in probes and name in used:
                spare.append(row["id"])
                continue
            used.add(name)
            keep.append(row)
        release(self._engine, self.worker_id, spare)
        for name in probes - used:
            return_probe(self._engine, name, now)
        return keep

    def _deliver(self, rows: list[RowMapping], stats: DispatchStats) -> None:
        if not rows:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self._config.dispatcher.max_workers,
                thread_name_prefix="notify-dispatch",
            )
        futures = {self._pool.submit(self._attempt, row): row for row in rows}
        waiting: set[Future[_Result]] = set(futures)
        lease_s = self._config.dispatcher.lease_s
        renew_at = time.monotonic() + lease_s / 2
        while waiting:
            timeout = max(0.0, renew_at - time.monotonic())
            done, waiting = wait(waiting, timeout=timeout, return_when=FIRST_COMPLETED)
            if done and waiting:
                # Gather what completes in the next few ms so one transaction records a group.
                more, waiting = wait(waiting, timeout=_GROUP_WINDOW_S)
                done |= more
            # Whatever finished together is recorded in one transaction.
            self._record([(futures[f], *f.result()) for f in done], stats)
            if waiting and time.monotonic() >= renew_at:
                # A slow batch keeps its rows: heartbeat the lease of those still in flight.
                until = utc_now() + timedelta(seconds=lease_s)
                extend_lease(
                    self._engine, self.worker_id, [futures[f]["id"] for f in waiting], until
                )
                renew_at = time.monotonic() + lease_s / 2

    def _attempt(self, row: RowMapping) -> _Result:
        started = utc_now()
        clock = time.perf_counter()
        message = _message_for(row)
        if isinstance(message, AttemptOutcome):
            return message, started, (time.perf_counter() - clock) * 1000.0
        channel = self._channels[row["destination"]]
        try:
            outcome = channel.send(message)
        except Exception as exc:  # a channel bug must not lose the row: it is recorded, retried
            outcome = AttemptOutcome(
                OutcomeKind.RETRY, error=f"channel raised {type(exc).__name__}: {exc}"
            )
        return outcome, started, (time.perf_counter() - clock) * 1000.0

    def _record(
        self,
        results: list[tuple[RowMapping, AttemptOutcome, datetime, float]],
        stats: DispatchStats,
    ) -> None:
        writes = [self._write_for(*result) for result in results]
        circuit = self._config.circuit
        record_attempts(
            self._engine,
            writes,
            worker_id=self.worker_id,
            threshold=circuit.failure_threshold,
            open_s=circuit.open_s,
        )
        for write in writes:
            if write.status == AttemptStatus.GONE:
                finished = write.started_at + timedelta(milliseconds=write.latency_ms)
                disable_destination(
                    self._engine, write.destination, write.error or "HTTP 410", finished
                )
            setattr(stats, write.status, getattr(stats, write.status) + 1)
            logger.info(
                "notification %s to %s attempt %d: %s (correlation id %s, %.1f ms)%s",
                write.outbox_id,
                write.destination,
                write.attempt,
                write.status,
                write.correlation_id,
                write.latency_ms,
                f": {write.error}" if write.error else "",
            )

    def _write_for(
        self, row: RowMapping, outcome: AttemptOutcome, started: datetime, latency_ms: float
    ) -> AttemptWrite:
        attempt = int(row["attempts"]) + 1
        finished = started + timedelta(milliseconds=latency_ms)
        decision = decide(outcome, attempt, finished, self._config.retry, self._rng)
        circuit = None
        if outcome.kind is OutcomeKind.DELIVERED:
            circuit = False
        elif outcome.is_failure:
            circuit = True
        return AttemptWrite(
            outbox_id=row["id"],
            notification_id=row["notification_id"],
            destination=row["destination"],
            correlation_id=row["correlation_id"],
            attempt=attempt,
            status=decision.attempt_status,
            http_status=outcome.http_status,
            latency_ms=latency_ms,
            error=self._redact(outcome.error) if outcome.error else None,
            started_at=started,
            row_status=decision.row_status,
            next_attempt_at=decision.next_attempt_at,
            circuit_failure=circuit,
        )


def _message_for(row: RowMapping) -> OutboundMessage | AttemptOutcome:
    """The message of ``row``, or an INVALID outcome if its stored payload is not a JSON object.

    A corrupt row fails on its own (no retry, no charge to the destination's circuit); the
    error names the decoder's complaint, never the payload's text.
    """
    try:
        payload = json.loads(row["payload"])
    except (TypeError, ValueError) as exc:
        return _invalid(f"{type(exc).__name__}: {exc}")
    if not isinstance(payload, dict):
        return _invalid(f"a JSON {type(payload).__name__}, not an object")
    return OutboundMessage(
        message_id=row["id"],
        notification_id=row["notification_id"],
        destination=row["destination"],
        event_type=row["event_type"],
        correlation_id=row["correlation_id"],
        payload=payload,
        created_at=as_utc(row["created_at"]),
        attempt=int(row["attempts"]) + 1,
    )


def _invalid(why: str) -> AttemptOutcome:
    return AttemptOutcome(OutcomeKind.INVALID, error=f"stored payload is not a JSON object ({why})")
