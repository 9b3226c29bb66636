"""Budget reservations under concurrency: 64 workers reserve at once on a nearly exhausted day.

The day window of a scratch budget is first filled to within about twelve reservations of its
cap with spend already on the books (``record_spend``, as an imported invoice would be); then
the workers, each with its own :class:`FinOpsBudget` over the same database (and Redis, when
given), as separate worker processes would have, are released together by a barrier and each
try to hold one small reservation. The store must hold only what fits; the evidence format
counts a breach when the holds or the store's own total end above the cap.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from agent_platform.errors import BudgetExceededError
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.concurrency import ReservationAttempt
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.models.config import load_routing

if TYPE_CHECKING:
    import redis

__all__ = ["BURST", "Burst", "BurstResult", "reservation_burst"]

MOMENT = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # a fixed simulated moment


@dataclass(frozen=True)
class Burst:
    """What the burst declares: who reserves, how much each, and how much room there is."""

    provider: str = "anthropic"
    task: str = "coding"
    tokens: int = 900  # 64 x 900 tokens fit the token ceiling
    headroom_reservations: Decimal = Decimal("12.5")  # reservations that fit at the start

    def declared(self, workers: int) -> dict[str, Any]:
        return {
            "workers": workers,
            "provider": self.provider,
            "task": self.task,
            "tokens_per_reservation": self.tokens,
            "headroom_reservations": str(self.headroom_reservations),
            "moment": MOMENT.isoformat(),
        }


BURST = Burst()


@dataclass(frozen=True)
class BurstResult:
    """Every attempt, the window's committed + reserved read back afterwards, the store."""

    attempts: list[ReservationAttempt]
    store_total_eur: float
    store_backend: str

    def written(self) -> tuple[list[ReservationAttempt], float]:
        """What the evidence file holds: every attempt and the store's total."""
        return self.attempts, self.store_total_eur


class _Race:
    def __init__(
        self, engine: Engine, client: redis.Redis | None, prefix: str, workers: int, burst: Burst
    ) -> None:
        self.routing = load_routing()
        self.finops = load_finops(routing=self.routing)
        self.engine, self.client, self.prefix, self.burst = engine, client, prefix, burst
        self.barrier = threading.Barrier(workers)

    def budget(self) -> FinOpsBudget:
        store = open_store(
            self.engine, self.finops, redis_client=self.client, redis_prefix=self.prefix
        )
        return FinOpsBudget(self.finops, self.routing, store, clock=lambda: MOMENT)

    def fill(self) -> FinOpsBudget:
        """Put the day within the headroom of its cap with spend already on the books."""
        budget, b = self.budget(), self.burst
        model = budget.model_for(b.task, b.provider)
        amount = budget.estimate_cost(b.task, b.tokens, b.provider)
        target = budget.limits.daily_eur_cap - b.headroom_reservations * amount
        per_token = budget.prices.actual(b.provider, model, 0, 1_000_000).amount_eur / 1_000_000
        # An hour earlier, so the bulk tokens land in another token window than the burst's.
        earlier = MOMENT - timedelta(hours=1)
        budget.record_spend(b.provider, model, b.task, 0, int(target / per_token), now=earlier)
        return budget

    def attempt(self, worker: int, spent: Decimal, cap: Decimal) -> ReservationAttempt:
        budget, b = self.budget(), self.burst
        model = budget.model_for(b.task, b.provider)
        self.barrier.wait(timeout=60)
        outcome, error = "held", ""
        amount = budget.estimate_cost(b.task, b.tokens, b.provider)
        try:
            budget.reserve(b.provider, model, b.task, b.tokens, correlation_id=f"burst-{worker}")
        except BudgetExceededError as exc:
            outcome, error = "refused", str(exc)
        key = budget.calendar.day_key(MOMENT)
        return ReservationAttempt(
            utc_now_iso(), worker, key, outcome, float(amount), float(spent), float(cap), error
        )


def reservation_burst(
    engine: Engine,
    client: redis.Redis | None,
    prefix: str,
    workers: int,
    burst: Burst = BURST,
) -> BurstResult:
    """Run the burst in ``engine`` (and Redis under ``prefix`` when ``client`` is given)."""
    race = _Race(engine, client, prefix, workers, burst)
    budget = race.fill()
    before = budget.get_remaining_budget().day
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(race.attempt, n, before.committed + before.reserved, before.cap)
            for n in range(workers)
        ]
        attempts = [f.result() for f in futures]
    after = budget.get_remaining_budget().day
    return BurstResult(attempts, float(after.committed + after.reserved), budget.backend)
