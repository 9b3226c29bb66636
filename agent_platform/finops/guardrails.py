"""FinOps guardrails: EUR caps, token ceilings, reserve-then-reconcile, alerts and forecast.

:class:`FinOpsBudget` decides what a request holds (its estimated EUR against the day and the
month, its tokens against the provider's token window) and what it is finally charged (the cost
of the usage the provider reported, at the pinned rate); a :class:`BudgetStore` makes each step
atomic across processes. Local providers hold no money, only tokens. Every method takes an
optional ``now`` (UTC-aware) and the constructor an injectable clock, so a month of synthetic
spend can be replayed in seconds.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from agent_platform.errors import BudgetExceededError, InvalidInputError
from agent_platform.events import EventSink
from agent_platform.finops._store import (
    AlertRow,
    BudgetStore,
    Hold,
    Reservation,
    SpendRow,
    WindowUsage,
)
from agent_platform.finops.alerts import AlertPolicy
from agent_platform.finops.forecast import Forecast
from agent_platform.finops.pricing import Cost, PriceBook
from agent_platform.finops.windows import WindowCalendar
from agent_platform.schemas.finops import FinOpsConfig, PhaseBudget
from agent_platform.schemas.routing import RoutingConfig

__all__ = ["BudgetStatus", "FinOpsBudget", "Reservation", "SpendResult", "WindowStatus"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SpendResult:
    """A settled call: what it cost and whether its reservation had already expired."""

    reservation_id: str | None
    provider: str
    model: str
    task: str
    prompt_tokens: int
    completion_tokens: int
    cost: Cost
    day_key: str
    month_key: str
    recorded_at: datetime
    late: bool

    @property
    def amount_eur(self) -> Decimal:
        return self.cost.amount_eur


@dataclass(frozen=True)
class WindowStatus:
    key: str
    cap: Decimal
    committed: Decimal
    reserved: Decimal

    @property
    def remaining(self) -> Decimal:
        return max(Decimal(0), self.cap - self.committed - self.reserved)


@dataclass(frozen=True)
class BudgetStatus:
    """Caps, spend, holds and what is left, for the day, the month and each token window."""

    phase: int
    as_of: datetime
    day: WindowStatus
    month: WindowStatus
    tokens: dict[str, WindowStatus]


class FinOpsBudget:
    """The budget guardian of one phase, over one :class:`BudgetStore`."""

    def __init__(
        self,
        finops: FinOpsConfig,
        routing: RoutingConfig,
        store: BudgetStore,
        *,
        phase: int | None = None,
        clock: Clock | None = None,
        sink: EventSink | None = None,
    ) -> None:
        number = finops.active_phase if phase is None else phase
        if number not in finops.phases:
            raise InvalidInputError(
                f"phase {number!r} is not defined in policies/finops.yaml; "
                f"allowed: {sorted(finops.phases)}"
            )
        self.config = finops
        self.routing = routing
        self.store = store
        self.phase = number
        self.clock: Clock = clock or utc_now
        self.calendar = WindowCalendar(finops.timezone, finops.token_window)
        self.prices = PriceBook(routing, finops)
        self.alerts = AlertPolicy(self, sink)

    @property
    def limits(self) -> PhaseBudget:
        return self.config.phases[self.phase]

    @property
    def backend(self) -> str:
        return self.store.backend

    def now(self, now: datetime | None = None) -> datetime:
        """``now`` (or the clock) as an aware UTC timestamp."""
        moment = self.clock() if now is None else now
        if moment.tzinfo is None:
            raise InvalidInputError(f"now={moment.isoformat()} must be timezone-aware")
        return moment.astimezone(UTC)

    def model_for(self, task: str, provider: str) -> str:
        """The model ``provider`` uses for ``task`` in the routing config."""
        self._require_task(task)
        config = self.routing.providers.get(provider)
        if config is None:
            raise InvalidInputError(
                f"provider {provider!r} is unknown; allowed: {sorted(self.routing.providers)}"
            )
        return config.models[task]  # type: ignore[index]

    def estimate_cost(self, task: str, token_estimate: int, provider: str | None = None) -> Decimal:
        """EUR held for ``token_estimate`` tokens of ``task`` on ``provider`` (default: the
        task's preferred provider); local providers estimate 0."""
        _require_tokens("token_estimate", token_estimate)
        name = provider or self._preferred(task)
        return self.prices.estimate_eur(name, self.model_for(task, name), token_estimate)

    def holds_for(self, provider: str, model: str, tokens: int, now: datetime) -> list[Hold]:
        """What a request of ``tokens`` on ``provider``/``model`` holds at ``now``."""
        _require_tokens("token_estimate", tokens)
        limits = self._provider_limits(provider, model)
        holds = [
            Hold(
                self.calendar.token_key(provider, now), Decimal(tokens), Decimal(limits.max_tokens)
            )
        ]
        if not self.prices.is_local(provider):
            amount = self.prices.estimate_eur(provider, model, tokens)
            holds.append(Hold(self.calendar.day_key(now), amount, self.limits.daily_eur_cap))
            holds.append(Hold(self.calendar.month_key(now), amount, self.limits.monthly_eur_cap))
        return holds

    def can_afford(
        self,
        task: str,
        token_estimate: int,
        provider: str | None = None,
        *,
        now: datetime | None = None,
    ) -> bool:
        """Whether a request would fit right now (advisory: :meth:`reserve` decides)."""
        name = provider or self._preferred(task)
        request = (name, self.model_for(task, name), token_estimate)
        return self.affordable([request], now=now)[0]

    def check_budget(
        self,
        task: str,
        token_estimate: int,
        provider: str | None = None,
        *,
        now: datetime | None = None,
    ) -> bool:
        """The seed's name for :meth:`can_afford` (same arguments, same answer).

        Advisory, like :meth:`can_afford`: a True may be overtaken by a concurrent caller, so
        :meth:`reserve` stays the atomic check. The router's own ``check_budget`` also looks
        at every eligible provider.
        """
        return self.can_afford(task, token_estimate, provider, now=now)

    def affordable(
        self, requests: Sequence[tuple[str, str, int]], *, now: datetime | None = None
    ) -> list[bool]:
        """For each (provider, model, tokens): would it fit? One read of the store for all."""
        moment = self.now(now)
        plans = [self.holds_for(p, m, t, moment) for p, m, t in requests]
        usage = self.store.usage(sorted({h.window_key for plan in plans for h in plan}))
        return [all(_fits(h, usage.get(h.window_key)) for h in plan) for plan in plans]

    def reserve(
        self,
        provider: str,
        model: str,
        task: str,
        token_estimate: int,
        *,
        correlation_id: str | None = None,
        now: datetime | None = None,
    ) -> Reservation:
        """Hold the estimate against every window, atomically, or raise.

        Raises:
            BudgetExceededError: a cap or token ceiling would be breached; nothing was held.
            InvalidInputError: unknown task, provider or model, or a bad token estimate.
        """
        self._require_task(task)
        moment = self.now(now)
        holds = tuple(self.holds_for(provider, model, token_estimate, moment))
        money = next((h.amount for h in holds if not h.window_key.startswith("tokens:")), None)
        reservation = Reservation(
            id=uuid.uuid4().hex,
            provider=provider,
            model=model,
            task=task,
            amount_eur=money if money is not None else Decimal(0),
            tokens=token_estimate,
            holds=holds,
            created_at=moment,
            expires_at=moment + timedelta(seconds=self.config.reservation_ttl_s),
            correlation_id=correlation_id,
        )
        outcome = self.store.reserve(reservation, moment)
        if outcome.refused_key is not None:
            usage = outcome.usage.get(outcome.refused_key)
            self.alerts.on_refusal(outcome.refused_key, usage, correlation_id, moment)
            raise BudgetExceededError(_refusal_message(reservation, outcome.refused_key, usage))
        return reservation

    def commit(
        self,
        reservation: Reservation,
        prompt_tokens: int,
        completion_tokens: int,
        *,
        now: datetime | None = None,
    ) -> SpendResult:
        """Replace ``reservation``'s holds with the real cost of the reported usage."""
        return self._settle(
            reservation,
            reservation.provider,
            reservation.model,
            reservation.task,
            (prompt_tokens, completion_tokens),
            reservation.correlation_id,
            self.now(now),
        )

    def release(self, reservation: Reservation, *, now: datetime | None = None) -> bool:
        """Drop ``reservation``'s holds (the call failed); False if it had already expired."""
        return self.store.release(reservation, self.now(now))

    def record_spend(
        self,
        provider: str,
        model: str,
        task: str,
        prompt_tokens: int,
        completion_tokens: int,
        *,
        correlation_id: str | None = None,
        now: datetime | None = None,
    ) -> SpendResult:
        """Record spend that already happened outside a reservation (it counts, unchecked)."""
        self._require_task(task)
        self._provider_limits(provider, model)
        usage = (prompt_tokens, completion_tokens)
        return self._settle(None, provider, model, task, usage, correlation_id, self.now(now))

    def sweep(self, *, now: datetime | None = None) -> int:
        """Reclaim every expired reservation now (reserve also does it lazily)."""
        return self.store.sweep(self.now(now))

    def get_remaining_budget(self, *, now: datetime | None = None) -> BudgetStatus:
        """Caps, committed, reserved and remaining for today, this month and token windows."""
        moment = self.now(now)
        day, month = self.calendar.day_key(moment), self.calendar.month_key(moment)
        tokens = {p: self.calendar.token_key(p, moment) for p in self.limits.providers}
        usage = self.store.usage([day, month, *tokens.values()])
        ceilings = {p: Decimal(lim.max_tokens) for p, lim in self.limits.providers.items()}
        return BudgetStatus(
            phase=self.phase,
            as_of=moment,
            day=_status(day, self.limits.daily_eur_cap, usage),
            month=_status(month, self.limits.monthly_eur_cap, usage),
            tokens={p: _status(k, ceilings[p], usage) for p, k in tokens.items()},
        )

    def forecast(self, *, now: datetime | None = None) -> Forecast:
        """Run-rate projection of this month's spend against the monthly cap."""
        return self.alerts.forecast(self.now(now))

    def trigger_alert(
        self,
        window_key: str,
        level: str,
        *,
        spent_eur: Decimal,
        cap_eur: Decimal,
        message: str | None = None,
        correlation_id: str | None = None,
        details: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> AlertRow | None:
        """Raise alert ``level`` for ``window_key`` once; None when it had already fired."""
        return self.alerts.trigger(
            window_key,
            level,
            spent_eur=spent_eur,
            cap_eur=cap_eur,
            message=message,
            correlation_id=correlation_id,
            details=details,
            now=self.now(now),
        )

    def _settle(
        self,
        reservation: Reservation | None,
        provider: str,
        model: str,
        task: str,
        usage: tuple[int, int],
        correlation_id: str | None,
        moment: datetime,
    ) -> SpendResult:
        prompt_tokens, completion_tokens = usage
        _require_tokens("prompt_tokens", prompt_tokens, minimum=0)
        _require_tokens("completion_tokens", completion_tokens, minimum=0)
        cost = self.prices.actual(provider, model, prompt_tokens, completion_tokens)
        anchor = reservation.created_at if reservation is not None else moment
        day, month = self.calendar.day_key(anchor), self.calendar.month_key(anchor)
        charges = [Hold(self.calendar.token_key(provider, anchor), Decimal(sum(usage)), Decimal(0))]
        if not self.prices.is_local(provider):
            charges.append(Hold(day, cost.amount_eur, self.limits.daily_eur_cap))
            charges.append(Hold(month, cost.amount_eur, self.limits.monthly_eur_cap))
        spend = SpendRow(
            reservation.id if reservation is not None else None,
            provider,
            model,
            task,
            prompt_tokens,
            completion_tokens,
            cost.amount,
            cost.currency,
            cost.rate_to_eur,
            cost.amount_eur,
            day,
            month,
            correlation_id,
            moment,
        )
        outcome = self.store.settle(reservation, charges, spend, moment)
        self.alerts.after_commit(outcome.usage, correlation_id, moment)
        return SpendResult(
            spend.reservation_id, provider, model, task, prompt_tokens, completion_tokens,
            cost, day, month, moment, outcome.late,
        )  # fmt: skip

    def refusal_reason(self, provider: str, model: str) -> str | None:
        """Why the phase does not allow ``provider``/``model`` (None: allowed)."""
        try:
            self._provider_limits(provider, model)
        except InvalidInputError as exc:
            return str(exc)
        return None

    def _preferred(self, task: str) -> str:
        self._require_task(task)
        return self.routing.task_types[task].preferred_provider  # type: ignore[index]

    def _require_task(self, task: str) -> None:
        if task not in self.routing.task_types:
            raise InvalidInputError(
                f"task {task!r} is unknown; allowed: {sorted(self.routing.task_types)}"
            )

    def _provider_limits(self, provider: str, model: str) -> Any:
        limits = self.limits.providers.get(provider)
        key = f"phases.{self.phase}.providers"
        if limits is None:
            raise InvalidInputError(
                f"provider {provider!r} is not allowed in {key}; "
                f"allowed: {sorted(self.limits.providers)}"
            )
        self.prices.require(provider, model)
        if limits.models is not None and model not in limits.models:
            raise InvalidInputError(
                f"model {model!r} is not allowed in {key}.{provider}.models; allowed: {limits.models}"
            )
        return limits


def _require_tokens(name: str, value: int, *, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInputError(f"{name} must be an integer >= {minimum}; got {value!r}")


def _fits(hold: Hold, usage: WindowUsage | None) -> bool:
    used = (usage.committed + usage.reserved) if usage is not None else Decimal(0)
    return hold.amount <= 0 or used + hold.amount <= hold.limit


def _status(key: str, cap: Decimal, usage: dict[str, WindowUsage]) -> WindowStatus:
    found = usage.get(key)
    if found is None:
        return WindowStatus(key, cap, Decimal(0), Decimal(0))
    return WindowStatus(key, cap, found.committed, found.reserved)


def _refusal_message(reservation: Reservation, key: str, usage: WindowUsage | None) -> str:
    hold = next(h for h in reservation.holds if h.window_key == key)
    used = f"{usage.committed} committed + {usage.reserved} reserved" if usage else "in use"
    unit = "tokens" if key.startswith("tokens:") else "EUR"
    return (
        f"{reservation.provider}/{reservation.model} ({reservation.task}): holding {hold.amount} "
        f"{unit} would exceed {key} limit {hold.limit} ({used})"
    )
