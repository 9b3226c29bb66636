"""The dispatcher: drains the outbox, delivers concurrently, retries, and keeps circuits.

It claims due rows under a lease, sends them through their channels on worker threads
(concurrently across and within destinations, each attempt bounded by its destination's
timeout), and records every attempt as it completes, a group of them per statement. Claims
overlap deliveries (the next rows are leased while half a batch is still in flight), and an
idle dispatcher is woken at once by a publisher in its process or, on PostgreSQL, by the
``NOTIFY`` any process's insert sends (:mod:`.wakeup`). Delivery is at-least-once: a dispatcher
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
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from types import TracebackType

import httpx
from sqlalchemy.engine import Engine, RowMapping

from agent_platform.errors import StorageError
from agent_platform.notifications._lease_connection import LeaseConnection
from agent_platform.notifications._workers import AttemptPool, Finished, Result
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
    claim_due,
    claim_probe,
    count_pending,
    disable_destination,
    ensure_destination_states,
    extend_lease,
    load_destination_states,
    mark_disabled_rows,
    record_attempts,
    return_probe,
)
from agent_platform.notifications.outcome import AttemptOutcome, OutcomeKind
from agent_platform.notifications.render import OutboundMessage
from agent_platform.notifications.retry import AttemptStatus, decide
from agent_platform.notifications.ssrf import AddressPolicy, Resolver
from agent_platform.notifications.timescale import check_time_scale, scale_config
from agent_platform.notifications.wakeup import Waker
from agent_platform.schemas.notifications import NotificationsConfig

__all__ = ["DispatchStats", "Dispatcher"]

logger = logging.getLogger(__name__)


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
        time_scale: compress time by this factor in (0, 1]: every duration of ``config`` and
            each receiver's ``Retry-After`` are multiplied by it (:mod:`.timescale`); attempts,
            thresholds and sizes stay as configured.
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
        time_scale: float = 1.0,
    ) -> None:
        self._engine = engine
        self.time_scale = check_time_scale(time_scale)
        if self.time_scale != 1.0:
            config = scale_config(config, self.time_scale)
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
        self._wake = Waker()
        self._pool: AttemptPool | None = None
        self._leases = LeaseConnection(engine)
        self._states_ready = False

    @property
    def destinations(self) -> tuple[str, ...]:
        return tuple(self._channels)

    def wake(self) -> None:
        """Cut the current idle wait short (publishers in the same process call this)."""
        self._wake.set()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._leases.close()
        self._sender.close()
        self._wake.close()

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
        """Deliver until ``stop`` is set, ``max_seconds`` pass, or (``until_idle``) nothing is
        pending any more; attempts still in flight then are finished and recorded first.

        Claims overlap deliveries: while at least half a batch is in flight no new rows are
        claimed, below that the free room is claimed as soon as the last claim came back full,
        a wake-up arrived (an in-process publisher, or a PostgreSQL ``NOTIFY`` from any
        process), or ``poll_interval_s`` passed since the last claim. If the loop fails (say a
        claim meets a database error), the attempts already in flight are still finished and
        recorded, as far as the database allows, before the error is raised.
        """
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        total = DispatchStats()
        pool = self._attempt_pool()
        try:
            return self._pump(pool, total, deadline, until_idle=until_idle, stop=stop)
        except BaseException:
            self._settle_in_flight(pool, total)
            raise

    def _pump(
        self,
        pool: AttemptPool,
        total: DispatchStats,
        deadline: float | None,
        *,
        until_idle: bool,
        stop: threading.Event | None,
    ) -> DispatchStats:
        poll_s = self._config.dispatcher.poll_interval_s
        batch = self._config.dispatcher.batch_size
        more_due, next_poll, refresh_at = True, 0.0, 0.0
        while True:
            halted = (stop is not None and stop.is_set()) or (
                deadline is not None and time.monotonic() >= deadline
            )
            if not halted and len(pool) <= batch // 2 and (more_due or self._woken(next_poll)):
                self._wake.clear()
                self._leases.clear()
                refresh = time.monotonic() >= refresh_at
                rows, more_due = self._claim(batch - len(pool), total, refresh=refresh)
                next_poll = time.monotonic() + poll_s
                refresh_at = next_poll if refresh else refresh_at
                pool.submit(rows)
            if len(pool):
                self._collect(pool, total, timeout=poll_s)
                continue
            if halted or (until_idle and not more_due and self.pending() == 0):
                break
            if not more_due:
                self._idle(deadline, next_poll)
        return total

    def _settle_in_flight(self, pool: AttemptPool, stats: DispatchStats) -> None:
        """After a failure in the loop: let the attempts in flight finish and record them if the
        database lets us (else their rows come due again when their leases lapse)."""
        while len(pool):
            done = pool.finished(timeout=None)
            try:
                self._record(done, stats)
            except StorageError as exc:
                logger.warning("could not record %d finished attempt(s): %s", len(done), exc)

    def _woken(self, next_poll: float) -> bool:
        """A wake-up (in-process or ``NOTIFY``) arrived, or it is time to poll."""
        return self._wake.is_set() or self._leases.signalled() or time.monotonic() >= next_poll

    def _idle(self, deadline: float | None, next_poll: float) -> None:
        """Wait for a wake-up, the next poll or the deadline, whichever comes first."""
        until = next_poll if deadline is None else min(next_poll, deadline)
        self._leases.wait(until - time.monotonic(), self._wake)

    def run_once(self) -> DispatchStats:
        """One pass: settle disabled destinations, claim due rows, deliver, record."""
        stats = DispatchStats()
        rows, _ = self._claim(self._config.dispatcher.batch_size, stats, refresh=True)
        pool = self._attempt_pool()
        pool.submit(rows)
        while len(pool):
            self._collect(pool, stats, timeout=None)
        return stats

    def _claim(
        self, limit: int, stats: DispatchStats, *, refresh: bool
    ) -> tuple[list[RowMapping], bool]:
        """Lease up to ``limit`` due rows; and whether the claim came back full.

        Closed circuits are judged inside the claiming statement. With ``refresh`` the states
        are read as well: disabled destinations have their rows settled, and a half-open circuit
        whose probe this dispatcher wins (one across every dispatcher) gets one row claimed.
        """
        now = utc_now()
        if not self._states_ready:
            ensure_destination_states(self._engine, self._channels, now)
            self._states_ready = True
        lease_s = self._config.dispatcher.lease_s
        rows: list[RowMapping] = []
        for name in self._won_probes(now, stats) if refresh else []:
            probe = claim_due(
                self._engine, self.worker_id, [name], now=now, lease_s=lease_s, limit=1
            )
            if not probe:
                return_probe(self._engine, name, now)  # nothing due: half-open again at once
            rows += probe
        wanted = limit - len(rows)
        closed = self._leases.run(
            lambda bind: claim_due(
                bind,
                self.worker_id,
                self._channels,
                now=now,
                lease_s=lease_s,
                limit=wanted,
                skip_tripped=self._config.circuit.failure_threshold,
            )
        )
        stats.claimed += len(rows) + len(closed)
        return rows + closed, len(closed) >= wanted

    def _won_probes(self, now: datetime, stats: DispatchStats) -> list[str]:
        """Read the states: settle disabled destinations' rows, and try for the probe of each
        half-open circuit (the others leave it alone until the probe's outcome is recorded)."""
        states = load_destination_states(self._engine)
        disabled = {n for n in self._channels if n in states and states[n].disabled}
        stats.settled_disabled += mark_disabled_rows(
            self._engine, disabled, "destination disabled after HTTP 410"
        )
        threshold = self._config.circuit.failure_threshold
        hold_s = self._config.dispatcher.lease_s
        return [
            name
            for name, state in sorted(states.items())
            if name in self._channels
            and name not in disabled
            and state.is_half_open(now, threshold)
            and claim_probe(self._engine, name, threshold=threshold, now=now, hold_s=hold_s)
        ]

    def _attempt_pool(self) -> AttemptPool:
        if self._pool is None:
            workers = self._config.dispatcher.max_workers
            self._pool = AttemptPool(self._attempt, workers, self._config.dispatcher.lease_s)
        return self._pool

    def _collect(self, pool: AttemptPool, stats: DispatchStats, timeout: float | None) -> None:
        """Wait (at most ``timeout``) for attempts to finish and record them in one transaction;
        heartbeat the leases of the rows still in flight when half a lease has passed."""
        renew_in = max(0.0, pool.renew_at - time.monotonic())
        done = pool.finished(renew_in if timeout is None else min(timeout, renew_in))
        if done:
            self._record(done, stats)
        if len(pool) and time.monotonic() >= pool.renew_at:
            # A slow attempt keeps its row: heartbeat the lease of those still in flight.
            lease_s = self._config.dispatcher.lease_s
            until = utc_now() + timedelta(seconds=lease_s)
            extend_lease(self._engine, self.worker_id, pool.ids(), until)
            pool.renew_at = time.monotonic() + lease_s / 2

    def _attempt(self, row: RowMapping) -> Result:
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
        results: list[Finished],
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
        if outcome.retry_after_s is not None and self.time_scale != 1.0:
            outcome = replace(outcome, retry_after_s=outcome.retry_after_s * self.time_scale)
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
