"""FinOps workload: a month of synthetic spend replayed through the real budget guardian.

**Traffic model** (seeded, so every run replays the same month): agents work 07:00-22:00
Berlin time; each weekday's demand is about 125 % of the daily cap and each weekend day's about
80 % (so the month overspends: the forecast alert fires and the monthly cap is reached near the
end of the month). A request is one provider-minute of agent calls, sized at 85-100 % of the
provider's per-minute token ceiling (the replay drives :class:`FinOpsBudget` directly, not the
router, whose per-task limits are smaller: this keeps the month at about 20,000
reservations). After a refusal the agents back off until the next full hour.

**Usage differs from the hold, both ways.** Every request reserves its token estimate before
it is "called"; the usage the provider then reports is the estimate times a factor drawn
uniformly from ``1 - underrun_percent`` to ``1 + overrun_margin_percent`` (80-90 % of it in
the completion). The hold prices every token at the dearer of the two prices, so most calls
cost less than they held, and calls well past their estimate cost more: a call reserved just
under a cap can then commit past it. The store charges what was used (a provider bills what it
served), so such a commit breaches the cap, and the replay does not hide it.

**Breaches are read from the store.** After the month the daily and monthly windows'
counters are read back from the budget store (its final state) and held against the caps of
the policy; ``budget_windows`` lists them, whatever the replay itself counted.

Every request goes through the real :class:`FinOpsBudget` (reserve before the call, atomic
commit after) with an injected clock, in the scratch database it is given, under a
run-private Redis prefix when Redis is configured. Refusals are counted, never forced through.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import redis
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent_platform.errors import BudgetExceededError
from agent_platform.events import RecordingSink
from agent_platform.evidence.formats.finops import CAP_EXHAUSTED, AlertRow, BudgetDay, BudgetWindow
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.finops.config import FINOPS_FILE
from agent_platform.finops.tables import budget_alerts
from agent_platform.models.config import ROUTING_FILE, load_routing
from agent_platform.schemas.finops import FinOpsConfig
from agent_platform.schemas.routing import RoutingConfig

__all__ = [
    "DEMAND",
    "MONTH_START",
    "AlertEvents",
    "FinOpsOutcome",
    "MonthReplay",
    "ReplayConfig",
    "load_configs",
    "replay_month",
    "run_finops_month",
    "store_windows",
]

MONTH_START = date(2026, 6, 1)  # a fixed simulated month (30 days) keeps the replay reproducible
WORKDAY = (7, 22)  # local hours of agent activity
DEMAND = {"weekday": 1.25, "weekend": 0.8}  # demand per day as a multiple of the daily cap
_SLOTS = (("anthropic", ("coding", "review")), ("openai", ("coding",)))
_EXPECTED_EUR = 0.6  # rough cost of one request of the model above, to size the demand


@dataclass(frozen=True)
class ReplayConfig:
    """What the month replay runs with; recorded in the workload's manifest."""

    days: int = 30
    seed: int = 4500
    overrun_margin_percent: int = 25
    underrun_percent: int = 40

    def usage_factor(self, rng: random.Random) -> float:
        """Reported tokens over the estimate for one call."""
        return rng.uniform(1 - self.underrun_percent / 100, 1 + self.overrun_margin_percent / 100)


@dataclass
class Clock:
    """The injected clock: the replay moves it to each request's time."""

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
                return stamp(datetime.fromisoformat(str(payload["projected_breach_at"])))
        return ""


@dataclass
class MonthReplay:
    """What the replay saw, request by request, summed per day; the month's totals are the
    sums of its days."""

    days: list[BudgetDay] = field(default_factory=list)
    exhausted_at: datetime | None = None

    def _total(self, name: str) -> int:
        return sum(int(getattr(day, name)) for day in self.days)

    @property
    def requests(self) -> int:
        return self._total("requests")

    @property
    def rejected(self) -> int:
        return self._total("rejected")

    @property
    def over_reserve(self) -> int:
        return self._total("over_reserve")

    @property
    def under_reserve(self) -> int:
        return self._total("under_reserve")

    @property
    def over_near_cap(self) -> int:
        return self._total("over_near_cap")

    @property
    def past_cap(self) -> int:
        return self._total("past_cap")


@dataclass(frozen=True)
class _Request:
    at: datetime
    provider: str
    task: str
    tokens: int
    prompt_share: float


@dataclass
class _Day:
    made: int = 0
    rejected: int = 0
    over: int = 0
    under: int = 0
    over_near_cap: int = 0
    past_cap: int = 0


def stamp(moment: datetime) -> str:
    """``moment`` as a UTC ISO 8601 second, the evidence timestamp format."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        out.append(_Request(at, provider, rng.choice(tasks), tokens, rng.uniform(0.1, 0.2)))
    return out


class _Replayer:
    """Drives one budget through the month: reserve, call (simulated usage), commit."""

    def __init__(self, budget: FinOpsBudget, clock: Clock, config: ReplayConfig) -> None:
        self.budget, self.clock, self.config = budget, clock, config
        self.usage_rng = random.Random(config.seed + 1)
        self.models = {
            (p, t): budget.model_for(t, p) for p, tasks in _SLOTS for t in tasks
        }  # fmt: skip
        self.out = MonthReplay()
        # What this replay committed per money window: the replay is the budget's only
        # writer, so this says how close to its cap each reservation was. It classifies
        # commits (near the cap, past it); breaches are read from the store, not from here.
        self.committed: dict[str, Decimal] = {}

    def serve(self, request: _Request, day: _Day) -> bool:
        """Reserve, then commit the reported usage; False when the budget refused."""
        self.clock.now = request.at
        model = self.models[(request.provider, request.task)]
        try:
            held = self.budget.reserve(request.provider, model, request.task, request.tokens)
        except BudgetExceededError:
            if self.out.exhausted_at is None and self._month_refused(request, model):
                self.out.exhausted_at = request.at
            return False
        used = max(1, round(request.tokens * self.config.usage_factor(self.usage_rng)))
        prompt = int(used * request.prompt_share)
        spend = self.budget.commit(held, prompt, used - prompt)
        self._classify(day, held.amount_eur, spend.cost.amount_eur, spend.day_key, spend.month_key)
        return True

    def _classify(self, day: _Day, held: Decimal, cost: Decimal, *keys: str) -> None:
        """Count a commit above or below its hold, near the cap and past it."""
        limits = self.budget.limits
        caps = (limits.daily_eur_cap, limits.monthly_eur_cap)
        before = [self.committed.get(key, Decimal(0)) for key in keys]
        near = any(cap - spent - held < held for cap, spent in zip(caps, before, strict=True))
        day.over += cost > held
        day.under += cost < held
        day.over_near_cap += cost > held and near
        day.past_cap += any(spent + cost > cap for cap, spent in zip(caps, before, strict=True))
        for key, spent in zip(keys, before, strict=True):
            self.committed[key] = spent + cost

    def _month_refused(self, request: _Request, model: str) -> bool:
        """Whether the monthly cap is what refused ``request``, from the budget's status.

        The month window's remaining money is compared with what the request would have held
        against it (the error carries no structured window, so its text is never parsed).
        """
        status = self.budget.get_remaining_budget(now=request.at)
        holds = self.budget.holds_for(request.provider, model, request.tokens, request.at)
        month_hold = sum(h.amount for h in holds if h.window_key == status.month.key)
        return month_hold > status.month.remaining

    def replay_day(self, rng: random.Random, day: date) -> _Day:
        tally = _Day()
        paused_until: datetime | None = None
        for request in _demand(self.budget, rng, day):
            if paused_until is not None and request.at < paused_until:
                continue  # backing off after a refusal: the work waits for the next hour
            tally.made += 1
            if not self.serve(request, tally):
                tally.rejected += 1
                paused_until = request.at.replace(minute=0, second=0) + timedelta(hours=1)
        return tally


def replay_month(budget: FinOpsBudget, clock: Clock, config: ReplayConfig) -> MonthReplay:
    """Replay ``config.days`` days of seeded demand; returns the daily rows and exhaustion."""
    rng = random.Random(config.seed)
    replayer = _Replayer(budget, clock, config)
    out = replayer.out
    zone = ZoneInfo(budget.config.timezone)
    for offset in range(config.days):
        day = MONTH_START + timedelta(days=offset)
        tally = replayer.replay_day(rng, day)
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
                requests=tally.made,
                rejected=tally.rejected,
                over_reserve=tally.over,
                under_reserve=tally.under,
                over_near_cap=tally.over_near_cap,
                past_cap=tally.past_cap,
            )
        )
    return out


def store_windows(budget: FinOpsBudget, days: int) -> list[BudgetWindow]:
    """The day and month windows of the replayed month as the store holds them now.

    Caps come from the policy (not from the store's own limit column), committed and reserved
    from the store's counters: a breach here is the store's state, not the replay's tally.
    """
    zone = ZoneInfo(budget.config.timezone)
    calendar, limits = budget.calendar, budget.limits
    noons = [
        datetime.combine(MONTH_START + timedelta(days=d), datetime.min.time(), zone).replace(
            hour=12
        )
        for d in range(days)
    ]
    keys = [(calendar.day_key(n), limits.daily_eur_cap) for n in noons]
    keys += sorted({(calendar.month_key(n), limits.monthly_eur_cap) for n in noons})
    usage = budget.store.usage([k for k, _ in keys])
    out = []
    for key, cap in keys:
        window = usage.get(key)
        committed = window.committed if window is not None else Decimal(0)
        reserved = window.reserved if window is not None else Decimal(0)
        out.append(BudgetWindow(key, float(cap), float(committed), float(reserved)))
    return out


def _alerts(
    engine: Engine, month_key: str, replay: MonthReplay, events: AlertEvents
) -> list[AlertRow]:
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
            timestamp=stamp(r["created_at"]),
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
        exhausted = AlertRow(
            stamp(replay.exhausted_at), CAP_EXHAUSTED, last.monthly_spend_eur,
            last.monthly_cap_eur, "",
        )  # fmt: skip
        out.append(exhausted)
    return out


@dataclass(frozen=True)
class FinOpsOutcome:
    """Everything the month replay measured, ready for the format writers."""

    replay: MonthReplay
    alerts: list[AlertRow]
    windows: list[BudgetWindow]
    store_backend: str


def run_finops_month(
    engine: Engine,
    finops: FinOpsConfig,
    routing: RoutingConfig,
    config: ReplayConfig,
    *,
    redis_client: redis.Redis | None = None,
    redis_prefix: str = "ev:finops:",
) -> FinOpsOutcome:
    """Replay the month on ``engine`` (a scratch database: the replay writes real rows)."""
    clock = Clock(datetime(MONTH_START.year, MONTH_START.month, 1, 6, tzinfo=UTC))
    events = AlertEvents()
    store = open_store(engine, finops, redis_client=redis_client, redis_prefix=redis_prefix)
    budget = FinOpsBudget(finops, routing, store, clock=clock, sink=events)
    replay = replay_month(budget, clock, config)
    month = budget.calendar.month_key(clock.now)
    return FinOpsOutcome(
        replay=replay,
        alerts=_alerts(engine, month, replay, events),
        windows=store_windows(budget, config.days),
        store_backend=store.backend,
    )


def load_configs(root: Path) -> tuple[FinOpsConfig, RoutingConfig]:
    """The shipped ``policies/finops.yaml`` and ``configs/model_routing.yaml`` under ``root``,
    cross-checked (the caller names the root: no environment is read here)."""
    routing = load_routing(path=root / ROUTING_FILE)
    return load_finops(routing=routing, path=root / FINOPS_FILE), routing
