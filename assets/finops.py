"""FinOps evidence: a month of synthetic spend replayed through the real budget guardian.

**Traffic model** (seeded, so every run replays the same month): agents work 07:00-22:00
Berlin time; each weekday's demand is about 125 % of the daily cap and each weekend day's about
80 % (so the month overspends: the forecast alert fires and the monthly cap is reached near the
end of the month). A request is one provider-minute of agent calls, sized at 85-100 % of the
provider's per-minute token ceiling with 80-90 % of its tokens in the completion (the replay
drives :class:`FinOpsBudget` directly, not the router, whose per-task limits are smaller: this
keeps the month at about 20,000 reservations; prompt-heavy traffic would need 2-3x more
for the same spend). After a refusal the agents back off until the next full hour.

Every request reserves before it is "called" and commits its usage after, through the real
:class:`FinOpsBudget` with an injected clock, in a scratch database (commits not waiting for
the WAL flush on PostgreSQL: the replay reports decisions, not timings) and under a run-private
Redis prefix when Redis is configured. Refusals are counted, never forced through. The daily
rows are read back from the budget, the alerts from the persisted ``budget_alerts`` (the
forecast's projected breach time from the alert event the budget published).
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
from agent_platform.events import RecordingSink
from agent_platform.evidence import layout as paths
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import utc_now_iso
from agent_platform.evidence.formats.finops import (
    CAP_EXHAUSTED,
    AlertRow,
    BudgetDay,
    alert_figures,
    lead_time_label,
    write_alerts,
    write_report,
)
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.finops.tables import budget_alerts
from agent_platform.models.config import load_routing
from assets._checks import threshold_checks
from assets._common import finish, markdown_table, sizes_for
from jobs.resources import DatabaseResource, EvidenceResource, RedisResource

__all__ = ["FINOPS_KEY", "AlertEvents", "budget_report", "finops_checks", "replay_month"]

FINOPS_KEY = AssetKey(["budget_report"])
MONTH_START = date(2026, 6, 1)  # a fixed simulated month (30 days) keeps the replay reproducible
WORKDAY = (7, 22)  # local hours of agent activity
DEMAND = {"weekday": 1.25, "weekend": 0.8}  # demand per day as a multiple of the daily cap
_SEED = 4500
_SLOTS = (("anthropic", ("coding", "review")), ("openai", ("coding",)))
_EXPECTED_EUR = 0.6  # rough cost of one request of the model above, to size the demand


@dataclass
class _Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


class AlertEvents(RecordingSink):
    """The :class:`EventSink` the replayed budget publishes its alerts to (kept in memory)."""

    def projected_breach(self, window_key: str) -> str:
        """The breach time the forecast alert of ``window_key`` projected ('' when none)."""
        for event in self.events:
            payload = event["payload"]
            if payload.get("window_key") == window_key and payload.get("level") == "forecast":
                return _stamp(datetime.fromisoformat(str(payload["projected_breach_at"])))
        return ""


@dataclass
class _Replay:
    days: list[BudgetDay] = field(default_factory=list)
    exhausted_at: datetime | None = None
    requests: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class _Request:
    at: datetime
    provider: str
    task: str
    tokens: int
    prompt_tokens: int


def _demand(budget: FinOpsBudget, rng: random.Random, day: date) -> list[_Request]:
    """The day's requests in time order: (minute, provider) slots drawn without replacement."""
    zone = ZoneInfo(budget.config.timezone)
    opening = datetime(day.year, day.month, day.day, WORKDAY[0], tzinfo=zone).astimezone(UTC)
    minutes = (WORKDAY[1] - WORKDAY[0]) * 60
    factor = DEMAND["weekend" if day.weekday() >= 5 else "weekday"] * rng.uniform(0.9, 1.1)
    wanted = int(float(budget.limits.daily_eur_cap) * factor / _EXPECTED_EUR)
    slots = sorted(rng.sample(range(minutes * len(_SLOTS)), min(wanted, minutes * len(_SLOTS))))
    out = []
    for slot in slots:
        provider, tasks = _SLOTS[slot % len(_SLOTS)]
        ceiling = budget.limits.providers[provider].max_tokens
        tokens = rng.randint(int(ceiling * 0.85), ceiling)
        at = opening + timedelta(minutes=slot // len(_SLOTS), seconds=rng.randint(0, 59))
        prompt = int(tokens * rng.uniform(0.1, 0.2))
        out.append(_Request(at, provider, rng.choice(tasks), tokens, prompt))
    return out


def _serve(budget: FinOpsBudget, clock: _Clock, request: _Request, out: _Replay) -> bool:
    """Reserve, then commit the usage; False when the budget refused the request."""
    clock.now = request.at
    model = budget.model_for(request.task, request.provider)
    try:
        reservation = budget.reserve(request.provider, model, request.task, request.tokens)
    except BudgetExceededError:
        if out.exhausted_at is None and _month_cap_refused(budget, request, model):
            out.exhausted_at = request.at
        return False
    budget.commit(reservation, request.prompt_tokens, request.tokens - request.prompt_tokens)
    return True


def _month_cap_refused(budget: FinOpsBudget, request: _Request, model: str) -> bool:
    """Whether the monthly cap is what refused ``request``: read from the budget's status.

    At the refusal time the month window's remaining money is compared with what the request
    would have held against it (the error carries no structured window, so its text is never
    parsed).
    """
    status = budget.get_remaining_budget(now=request.at)
    holds = budget.holds_for(request.provider, model, request.tokens, request.at)
    month_hold = sum(h.amount for h in holds if h.window_key == status.month.key)
    return month_hold > status.month.remaining


def _replay_day(
    budget: FinOpsBudget, clock: _Clock, rng: random.Random, day: date, out: _Replay
) -> tuple[int, int]:
    made = rejected = 0
    paused_until: datetime | None = None
    for request in _demand(budget, rng, day):
        if paused_until is not None and request.at < paused_until:
            continue  # backing off after a refusal: the work waits for the next hour
        made += 1
        if not _serve(budget, clock, request, out):
            rejected += 1
            paused_until = request.at.replace(minute=0, second=0) + timedelta(hours=1)
    return made, rejected


def replay_month(budget: FinOpsBudget, clock: _Clock, days: int) -> _Replay:
    """Replay ``days`` days of seeded demand; returns the daily rows and cap exhaustion."""
    rng = random.Random(_SEED)
    out = _Replay()
    zone = ZoneInfo(budget.config.timezone)
    for offset in range(days):
        day = MONTH_START + timedelta(days=offset)
        made, rejected = _replay_day(budget, clock, rng, day, out)
        out.requests += made
        out.rejected += rejected
        end = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=zone).astimezone(UTC)
        status = budget.get_remaining_budget(now=end)
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


def _stamp(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _alerts(engine: Engine, month_key: str, replay: _Replay, events: AlertEvents) -> list[AlertRow]:
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
            timestamp=_stamp(r["created_at"]),
            kind=kinds.get(r["level"], r["level"]),
            monthly_spend_eur=float(r["spent_eur"]),
            monthly_cap_eur=float(r["cap_eur"]),
            correlation_id=r["correlation_id"],
            projected_breach_at=events.projected_breach(month_key)
            if r["level"] == "forecast"
            else "",
        )
        for r in rows
    ]
    if replay.exhausted_at is not None and replay.days:
        last = replay.days[-1]
        out.append(
            AlertRow(
                _stamp(replay.exhausted_at),
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
    prefix = f"ev:{context.run.run_id[:8]}:finops:"
    clock = _Clock(datetime(MONTH_START.year, MONTH_START.month, 1, 6, tzinfo=UTC))
    events = AlertEvents()
    with database.scratch("finops", durable=False) as engine:
        store = open_store(engine, finops, redis_client=redis.client, redis_prefix=prefix)
        budget = FinOpsBudget(finops, routing, store, clock=clock, sink=events)
        try:
            replay = replay_month(budget, clock, sizes["days"])
            month = budget.calendar.month_key(clock.now)
            alerts = _alerts(engine, month, replay, events)
        finally:
            redis.purge(prefix)
    finished = utc_now_iso()
    layout = evidence.layout()
    write_report(layout.path(paths.BUDGET_REPORT), replay.days)
    write_alerts(layout.path(paths.BUDGET_ALERTS), alerts)
    lead = alert_figures(layout.path(paths.BUDGET_ALERTS))
    finish(
        context,
        evidence,
        "finops",
        started_at=started,
        finished_at=finished,
        sizes={
            **sizes,
            "requests": replay.requests,
            "rejected": replay.rejected,
            "simulated_month": MONTH_START.isoformat(),
            "demand_x_daily_cap": DEMAND,
            "lead_time": lead_time_label(lead["alert_lead_time_basis"]),
        },
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
            "lead times (simulated hours)": markdown_table(
                ("forecast alert -> cap refusal", "80 % alert -> cap refusal", "projected"),
                [
                    (
                        lead["alert_lead_time_hours"],
                        lead["threshold_lead_time_hours"],
                        lead["projected_lead_time_hours"],
                    )
                ],
            ),
            "budget curve vs caps": markdown_table(
                ("date", "day EUR", "day cap", "month EUR", "month cap", "month used", "refused"),
                curve,
            ),
            "alerts": markdown_table(
                ("time (simulated)", "kind", "month EUR", "projected breach"),
                [
                    (
                        a.timestamp,
                        a.kind,
                        f"{a.monthly_spend_eur:.2f}",
                        a.projected_breach_at or "-",
                    )
                    for a in alerts
                ],
            ),
        }
    )


def _bar(ratio: float, width: int = 20) -> str:
    filled = max(0, min(width, round(ratio * width)))
    return "█" * filled + "·" * (width - filled) + f" {ratio:.0%}"


def finops_checks(contract: Contract) -> list[AssetChecksDefinition]:
    """The month replay's FinOps thresholds (the ``concurrent_*`` ones belong to the burst)."""
    mine = [t for t in contract.thresholds_for("finops") if not t.figure.startswith("concurrent_")]
    return threshold_checks(FINOPS_KEY, "finops", mine)
