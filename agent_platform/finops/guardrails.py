"""FinOps guardrails: EUR caps, token ceilings, reserve-then-reconcile, alerts and forecast.

:class:`FinOpsBudget` decides what a request holds (its estimated EUR against the day and the
month, its tokens against the provider's token window) and what it is finally charged (the cost
of the usage the provider reported, at the pinned rate); a :class:`BudgetStore` makes each step
atomic across processes. Local providers hold no money, only tokens. Every method takes an
optional ``now`` (UTC-aware) and the constructor an injectable clock, so a month of synthetic
spend can be replayed in seconds. The bookkeeping rules live in
:mod:`~agent_platform.finops._settlement`, the input checks in :mod:`~agent_platform.finops._checks`
and the returned values in :mod:`~agent_platform.finops._results`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from agent_platform.errors import BudgetExceededError, InvalidInputError
from agent_platform.events import EventSink
from agent_platform.finops import _checks as checks
from agent_platform.finops import _settlement as book
from agent_platform.finops._results import BudgetStatus, SpendResult, WindowStatus, window_status
from agent_platform.finops._store import AlertRow, BudgetStore, Hold, Reservation
from agent_platform.finops.alerts import AlertPolicy
from agent_platform.finops.forecast import Forecast
from agent_platform.finops.pricing import PriceBook
from agent_platform.finops.windows import WindowCalendar
from agent_platform.schemas.finops import FinOpsConfig, PhaseBudget
from agent_platform.schemas.routing import RoutingConfig

__all__ = ["BudgetStatus", "FinOpsBudget", "Reservation", "SpendResult", "WindowStatus"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock, UTC-aware (the default :data:`Clock`)."""
    return datetime.now(UTC)


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
        self.config = finops
        self.routing = routing
        self.store = store
        self.phase = checks.require_phase(finops, finops.active_phase if phase is None else phase)
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
        return checks.routing_model(self.routing, task, provider)

    def estimate_cost(self, task: str, token_estimate: int, provider: str | None = None) -> Decimal:
        """EUR held for ``token_estimate`` tokens of ``task`` on ``provider`` (default: the
        task's preferred provider); local providers estimate 0."""
        checks.require_tokens("token_estimate", token_estimate)
        name = provider or checks.preferred_provider(self.routing, task)
        return self.prices.estimate_eur(name, self.model_for(task, name), token_estimate)

    def holds_for(self, provider: str, model: str, tokens: int, now: datetime) -> list[Hold]:
        """What a request of ``tokens`` on ``provider``/``model`` holds at ``now``."""
        return book.request_holds(self, provider, model, tokens, now)

    def can_afford(
        self,
        task: str,
        token_estimate: int,
        provider: str | None = None,
        *,
        now: datetime | None = None,
    ) -> bool:
        """Whether a request would fit right now (advisory: :meth:`reserve` decides)."""
        name = provider or checks.preferred_provider(self.routing, task)
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
        return [all(book.fits(h, usage.get(h.window_key)) for h in plan) for plan in plans]

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
        checks.require_task(self.routing, task)
        moment = self.now(now)
        request = (provider, model, task, token_estimate)
        reservation = book.new_reservation(self, request, correlation_id, moment)
        outcome = self.store.reserve(reservation, moment)
        if outcome.refused_key is not None:
            usage = outcome.usage.get(outcome.refused_key)
            self.alerts.on_refusal(outcome.refused_key, usage, correlation_id, moment)
            raise BudgetExceededError(book.refusal_message(reservation, outcome.refused_key, usage))
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
        call = book.ReportedCall.of(reservation, prompt_tokens, completion_tokens)
        return book.settle(self, reservation, call, self.now(now))

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
        checks.require_task(self.routing, task)
        checks.phase_limits(self.config, self.phase, self.prices, provider, model)
        call = book.ReportedCall(
            provider, model, task, prompt_tokens, completion_tokens, correlation_id
        )
        return book.settle(self, None, call, self.now(now))

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
            day=window_status(day, self.limits.daily_eur_cap, usage),
            month=window_status(month, self.limits.monthly_eur_cap, usage),
            tokens={p: window_status(k, ceilings[p], usage) for p, k in tokens.items()},
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

    def refusal_reason(self, provider: str, model: str) -> str | None:
        """Why the phase does not allow ``provider``/``model`` (None: allowed)."""
        try:
            checks.phase_limits(self.config, self.phase, self.prices, provider, model)
        except InvalidInputError as exc:
            return str(exc)
        return None
