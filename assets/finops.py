"""FinOps evidence: a month of synthetic spend replayed through the real budget guardian.

A seeded demand (requests near the providers' per-minute token ceilings, a weekday/weekend
pattern and noise, totalling a little more than the monthly cap) is replayed minute by
minute through :class:`FinOpsBudget` with an injected clock, in a scratch database (and under
a run-private Redis prefix when Redis is configured). Every request reserves before it is
"called" and commits the usage after; refusals are counted, never forced through. The daily
rows are read back from the budget itself, the alerts from the persisted ``budget_alerts``.
"""

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from dagster import AssetChecksDefinition, AssetExecutionContext, AssetKey, MaterializeResult, asset
from sqlalchemy.engine import Engine

from agent_platform.config import Settings
from agent_platform.errors import BudgetExceededError
from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.finops import (
    CAP_EXHAUSTED,
    AlertRow,
    BudgetDay,
    write_alerts,
    write_report,
)
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.finops.tables import budget_alerts
from agent_platform.models.config import load_routing
from assets._checks import threshold_checks
from assets._common import finish, markdown_table, sizes_for
from jobs.resources import DatabaseResource, EvidenceResource, RedisResource

__all__ = ["FINOPS_KEY", "budget_report", "finops_checks", "replay_month"]

FINOPS_KEY = AssetKey(["budget_report"])
MONTH_START = date(2026, 6, 1)  # a fixed simulated month (30 days) keeps the replay reproducible
_SEED = 4500
_REQUESTS = (
    ("coding", "anthropic", 60000),
    ("coding", "openai", 80000),
    ("review", "anthropic", 60000),
)


@dataclass
class _Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class _Replay:
    days: list[BudgetDay] = field(default_factory=list)
    exhausted_at: datetime | None = None
    requests: int = 0
    rejected: int = 0


def _day_requests(
    budget: FinOpsBudget, clock: _Clock, rng: random.Random, day: date, count: int, out: _Replay
) -> tuple[int, int]:
    zone = ZoneInfo(budget.config.timezone)
    start = datetime(day.year, day.month, day.day, 7, 0, tzinfo=zone).astimezone(UTC)
    minutes = sorted(rng.sample(range(0, 15 * 60), count))
    rejected = 0
    for minute in minutes:
        task, provider, ceiling = rng.choice(_REQUESTS)
        clock.now = start + timedelta(minutes=minute, seconds=rng.randint(0, 59))
        tokens = rng.randint(int(ceiling * 0.6), ceiling)
        try:
            reservation = budget.reserve(provider, budget.model_for(task, provider), task, tokens)
        except BudgetExceededError as exc:
            rejected += 1
            if out.exhausted_at is None and "month" in str(exc):
                out.exhausted_at = clock.now
            continue
        prompt = tokens // 3
        budget.commit(reservation, prompt, tokens - prompt)
    return count, rejected


def replay_month(budget: FinOpsBudget, clock: _Clock, days: int, requests_per_day: int) -> _Replay:
    """Replay ``days`` days of seeded demand; returns the daily rows and cap exhaustion."""
    rng = random.Random(_SEED)
    out = _Replay()
    for offset in range(days):
        day = MONTH_START + timedelta(days=offset)
        weekend = day.weekday() >= 5
        count = max(1, int(requests_per_day * (0.7 if weekend else 1.1) * rng.uniform(0.9, 1.1)))
        made, rejected = _day_requests(budget, clock, rng, day, min(count, 15 * 60), out)
        out.requests += made
        out.rejected += rejected
        clock.now = clock.now + timedelta(minutes=1)
        status = budget.get_remaining_budget()
        out.days.append(
            BudgetDay(
                date=day.isoformat(),
                phase=budget.phase,
                daily_spend_eur=float(status.day.committed),
                daily_cap_eur=float(status.day.cap),
                monthly_spend_eur=float(status.month.committed),
                monthly_cap_eur=float(status.month.cap),
                requests=made,
                rejected=rejected,
            )
        )
    return out


def _alerts(engine: Engine, month_key: str, replay: _Replay) -> list[AlertRow]:
    query = (
        sa.select(budget_alerts)
        .where(budget_alerts.c.window_key == month_key)
        .order_by(budget_alerts.c.created_at)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    kinds = {"threshold": "threshold_80", "cap": "threshold_100", "forecast": "forecast"}
    out = [
        AlertRow(
            timestamp=r["created_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if r["created_at"].tzinfo
            else r["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            kind=kinds.get(r["level"], r["level"]),
            monthly_spend_eur=float(r["spent_eur"]),
            monthly_cap_eur=float(r["cap_eur"]),
            correlation_id=r["correlation_id"],
        )
        for r in rows
    ]
    if replay.exhausted_at is not None and replay.days:
        last = replay.days[-1]
        out.append(
            AlertRow(
                replay.exhausted_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                CAP_EXHAUSTED,
                last.monthly_spend_eur,
                last.monthly_cap_eur,
                "",
            )
        )
    return out


@asset(
    key=FINOPS_KEY,
    group_name="finops",
    description="A replayed month of spend against the phase caps, with the alerts it raised.",
)
def budget_report(
    context: AssetExecutionContext,
    evidence: EvidenceResource,
    database: DatabaseResource,
    redis: RedisResource,
) -> MaterializeResult:
    started = utc_now_iso()
    sizes = sizes_for(evidence, "finops")
    settings = Settings.from_env()
    routing = load_routing(settings)
    finops = load_finops(settings, routing)
    prefix = f"ev:{context.run_id[:8]}:finops:"
    clock = _Clock(datetime(MONTH_START.year, MONTH_START.month, 1, 6, tzinfo=UTC))
    with database.scratch("finops") as engine:
        store = open_store(engine, finops, redis_client=redis.client, redis_prefix=prefix)
        budget = FinOpsBudget(finops, routing, store, clock=clock)
        try:
            replay = replay_month(budget, clock, sizes["days"], sizes["requests_per_day"])
            alerts = _alerts(engine, budget.calendar.month_key(clock.now), replay)
        finally:
            redis.purge(prefix)
    finished = utc_now_iso()
    layout = evidence.layout()
    write_report(layout.path(paths.BUDGET_REPORT), replay.days)
    write_alerts(layout.path(paths.BUDGET_ALERTS), alerts)
    finish(
        context,
        evidence,
        "finops",
        started_at=started,
        finished_at=finished,
        sizes={**sizes, "requests": replay.requests, "simulated_month": MONTH_START.isoformat()},
        backends={
            "database": database.backend,
            "budget_store": store.backend,
            "clock": "simulated",
        },
    )
    curve = [
        (
            d.date,
            f"{d.daily_spend_eur:.2f}",
            f"{d.daily_cap_eur:.0f}",
            f"{d.monthly_spend_eur:.2f}",
            f"{d.monthly_cap_eur:.0f}",
            _bar(d.monthly_spend_eur / d.monthly_cap_eur),
            d.rejected,
        )
        for d in replay.days
    ]
    return MaterializeResult(
        metadata={
            "path": paths.BUDGET_REPORT,
            "budget curve vs caps": markdown_table(
                ("date", "day EUR", "day cap", "month EUR", "month cap", "month used", "refused"),
                curve,
            ),
            "alerts": markdown_table(
                ("time (simulated)", "kind", "month EUR"),
                [(a.timestamp, a.kind, f"{a.monthly_spend_eur:.2f}") for a in alerts],
            ),
        }
    )


def _bar(ratio: float, width: int = 20) -> str:
    filled = max(0, min(width, round(ratio * width)))
    return "█" * filled + "·" * (width - filled) + f" {ratio:.0%}"


def finops_checks(contract: Contract) -> list[AssetChecksDefinition]:
    """The FinOps thresholds of the contract, as blocking checks."""
    return threshold_checks(FINOPS_KEY, "finops", contract.thresholds_for("finops"))
