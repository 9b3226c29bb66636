"""Budget evidence under concurrency: 64 workers reserve at once on a nearly exhausted budget.

The day window of a scratch budget is first filled to within about twelve reservations of its
cap with spend already on the books (``record_spend``, as an imported invoice would be); then
64 threads, each with its own :class:`FinOpsBudget` over the same database (and Redis, when
configured), as separate worker processes would have, are released together by a barrier and
each try to hold one small reservation. The store must hold only what fits: the CSV records
every attempt and the window's committed plus reserved total read back afterwards, and the
gate counts a breach if either exceeds the cap.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dagster import AssetChecksDefinition, AssetExecutionContext, AssetKey, MaterializeResult, asset
from sqlalchemy.engine import Engine

from agent_platform.errors import BudgetExceededError
from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.concurrency import ReservationAttempt, write
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.models.config import load_routing
from assets._checks import threshold_checks
from assets._common import finish, markdown_table, sizes_for
from jobs.resources import DatabaseResource, EvidenceResource, RedisResource

__all__ = ["CONCURRENCY_KEY", "budget_concurrency", "concurrency_checks", "reservation_burst"]

CONCURRENCY_KEY = AssetKey(["budget_concurrency"])
MOMENT = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # a fixed simulated moment
PROVIDER, TASK, TOKENS = "anthropic", "coding", 900  # 64 x 900 tokens fit the token ceiling
HEADROOM = Decimal("12.5")  # reservations that fit when the burst starts


class _Burst:
    def __init__(self, engine: Engine, redis: RedisResource, prefix: str, workers: int) -> None:
        self.routing = load_routing()
        self.finops = load_finops(routing=self.routing)
        self.engine, self.redis, self.prefix = engine, redis, prefix
        self.barrier = threading.Barrier(workers)

    def budget(self) -> FinOpsBudget:
        store = open_store(
            self.engine, self.finops, redis_client=self.redis.client, redis_prefix=self.prefix
        )
        return FinOpsBudget(self.finops, self.routing, store, clock=lambda: MOMENT)

    def fill(self) -> tuple[FinOpsBudget, Decimal]:
        """Put the day within ``HEADROOM`` reservations of its cap; returns the amount each holds."""
        budget = self.budget()
        model = budget.model_for(TASK, PROVIDER)
        amount = budget.estimate_cost(TASK, TOKENS, PROVIDER)
        target = budget.limits.daily_eur_cap - HEADROOM * amount
        per_token = budget.prices.actual(PROVIDER, model, 0, 1_000_000).amount_eur / 1_000_000
        # An hour earlier, so the bulk tokens land in another token window than the burst's.
        earlier = MOMENT - timedelta(hours=1)
        budget.record_spend(PROVIDER, model, TASK, 0, int(target / per_token), now=earlier)
        return budget, amount

    def attempt(self, worker: int, spent: Decimal, cap: Decimal) -> ReservationAttempt:
        budget = self.budget()
        model = budget.model_for(TASK, PROVIDER)
        self.barrier.wait(timeout=60)
        outcome, error, amount = "held", "", budget.estimate_cost(TASK, TOKENS, PROVIDER)
        try:
            budget.reserve(PROVIDER, model, TASK, TOKENS, correlation_id=f"burst-{worker}")
        except BudgetExceededError as exc:
            outcome, error = "refused", str(exc)
        key = budget.calendar.day_key(MOMENT)
        return ReservationAttempt(
            utc_now_iso(), worker, key, outcome, float(amount), float(spent), float(cap), error
        )


def reservation_burst(
    engine: Engine, redis: RedisResource, prefix: str, workers: int
) -> tuple[list[ReservationAttempt], float, str]:
    """Run the burst; returns every attempt, the day's committed + reserved afterwards and the
    budget store's backend."""
    burst = _Burst(engine, redis, prefix, workers)
    budget, _ = burst.fill()
    before = budget.get_remaining_budget().day
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(burst.attempt, n, before.committed + before.reserved, before.cap)
            for n in range(workers)
        ]
        attempts = [f.result() for f in futures]
    after = budget.get_remaining_budget().day
    return attempts, float(after.committed + after.reserved), budget.backend


@asset(
    key=CONCURRENCY_KEY,
    group_name="finops",
    description="64 concurrent reservations on a nearly exhausted daily budget: holds vs cap.",
)
def budget_concurrency(
    context: AssetExecutionContext,
    evidence: EvidenceResource,
    database: DatabaseResource,
    redis: RedisResource,
) -> MaterializeResult:
    started = utc_now_iso()
    sizes = sizes_for(evidence, "budget_concurrency")
    prefix = f"ev:{context.run.run_id[:8]}:burst:"
    with database.scratch("burst") as engine:
        try:
            attempts, total, store = reservation_burst(engine, redis, prefix, sizes["workers"])
        finally:
            redis.purge(prefix)
    finished = utc_now_iso()
    write(evidence.layout().path(paths.BUDGET_CONCURRENCY), attempts, total, finished)
    finish(
        context,
        evidence,
        "budget_concurrency",
        started_at=started,
        finished_at=finished,
        sizes={**sizes, "tokens_per_reservation": TOKENS, "headroom_reservations": str(HEADROOM)},
        backends={"database": database.backend, "budget_store": store, "clock": "simulated"},
    )
    held = sum(a.outcome == "held" for a in attempts)
    cap = attempts[0].cap_eur if attempts else 0.0
    spent = attempts[0].spent_before_eur if attempts else 0.0
    return MaterializeResult(
        metadata={
            "path": paths.BUDGET_CONCURRENCY,
            "burst": markdown_table(
                ("workers", "held", "refused", "spent before EUR", "after EUR", "cap EUR"),
                [(len(attempts), held, len(attempts) - held, f"{spent:.4f}", f"{total:.4f}", cap)],
            ),
        }
    )


def concurrency_checks(contract: Contract) -> list[AssetChecksDefinition]:
    """The ``concurrent_*`` FinOps thresholds, on the burst."""
    mine = [t for t in contract.thresholds_for("finops") if t.figure.startswith("concurrent_")]
    return threshold_checks(CONCURRENCY_KEY, "budget_concurrency", mine)
