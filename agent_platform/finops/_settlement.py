"""What a request holds and what a settled call is charged: windows, amounts and limits.

:class:`~agent_platform.finops.guardrails.FinOpsBudget` is the public face; this module holds its
bookkeeping rules: a request holds its token estimate against the provider's token window and
(unless the provider is local) its estimated EUR against the day and the month; a settled call
replaces those holds with the real cost of the usage the provider reported, at the pinned rate,
charged to the windows of the moment it was reserved. The store applies both atomically.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from agent_platform.finops._checks import phase_limits, require_tokens
from agent_platform.finops._results import SpendResult
from agent_platform.finops._store import Hold, Reservation, SpendRow, WindowUsage

if TYPE_CHECKING:
    from agent_platform.finops.guardrails import FinOpsBudget

__all__ = ["ReportedCall", "fits", "new_reservation", "refusal_message", "request_holds", "settle"]


class ReportedCall(NamedTuple):
    """A finished provider call as reported: who served it and the tokens it used."""

    provider: str
    model: str
    task: str
    prompt_tokens: int
    completion_tokens: int
    correlation_id: str | None

    @classmethod
    def of(
        cls, reservation: Reservation, prompt_tokens: int, completion_tokens: int
    ) -> ReportedCall:
        """The call ``reservation`` was held for, with the usage its provider reported."""
        r = reservation
        return cls(r.provider, r.model, r.task, prompt_tokens, completion_tokens, r.correlation_id)


def request_holds(
    budget: FinOpsBudget, provider: str, model: str, tokens: int, now: datetime
) -> list[Hold]:
    """What a request of ``tokens`` on ``provider``/``model`` holds at ``now``."""
    require_tokens("token_estimate", tokens)
    limits = phase_limits(budget.config, budget.phase, budget.prices, provider, model)
    calendar = budget.calendar
    holds = [Hold(calendar.token_key(provider, now), Decimal(tokens), Decimal(limits.max_tokens))]
    if not budget.prices.is_local(provider):
        amount = budget.prices.estimate_eur(provider, model, tokens)
        holds.append(Hold(calendar.day_key(now), amount, budget.limits.daily_eur_cap))
        holds.append(Hold(calendar.month_key(now), amount, budget.limits.monthly_eur_cap))
    return holds


def new_reservation(
    budget: FinOpsBudget,
    request: tuple[str, str, str, int],
    correlation_id: str | None,
    moment: datetime,
) -> Reservation:
    """A not yet stored reservation of ``request`` (provider, model, task, token estimate)."""
    provider, model, task, tokens = request
    holds = tuple(request_holds(budget, provider, model, tokens, moment))
    money = next((h.amount for h in holds if not h.window_key.startswith("tokens:")), None)
    return Reservation(
        id=uuid.uuid4().hex,
        provider=provider,
        model=model,
        task=task,
        amount_eur=money if money is not None else Decimal(0),
        tokens=tokens,
        holds=holds,
        created_at=moment,
        expires_at=moment + timedelta(seconds=budget.config.reservation_ttl_s),
        correlation_id=correlation_id,
    )


def fits(hold: Hold, usage: WindowUsage | None) -> bool:
    """Whether ``hold`` fits next to what ``usage`` already settled and holds."""
    used = (usage.committed + usage.reserved) if usage is not None else Decimal(0)
    return hold.amount <= 0 or used + hold.amount <= hold.limit


def refusal_message(reservation: Reservation, key: str, usage: WindowUsage | None) -> str:
    """Why the store refused ``reservation`` at window ``key``, in one line."""
    hold = next(h for h in reservation.holds if h.window_key == key)
    used = f"{usage.committed} committed + {usage.reserved} reserved" if usage else "in use"
    unit = "tokens" if key.startswith("tokens:") else "EUR"
    return (
        f"{reservation.provider}/{reservation.model} ({reservation.task}): holding {hold.amount} "
        f"{unit} would exceed {key} limit {hold.limit} ({used})"
    )


def settle(
    budget: FinOpsBudget, reservation: Reservation | None, call: ReportedCall, moment: datetime
) -> SpendResult:
    """Charge ``call``'s real cost (replacing ``reservation``'s holds), then raise its alerts."""
    require_tokens("prompt_tokens", call.prompt_tokens, minimum=0)
    require_tokens("completion_tokens", call.completion_tokens, minimum=0)
    cost = budget.prices.actual(
        call.provider, call.model, call.prompt_tokens, call.completion_tokens
    )
    anchor = reservation.created_at if reservation is not None else moment
    day, month = budget.calendar.day_key(anchor), budget.calendar.month_key(anchor)
    tokens = Decimal(call.prompt_tokens + call.completion_tokens)
    charges = [Hold(budget.calendar.token_key(call.provider, anchor), tokens, Decimal(0))]
    if not budget.prices.is_local(call.provider):
        charges.append(Hold(day, cost.amount_eur, budget.limits.daily_eur_cap))
        charges.append(Hold(month, cost.amount_eur, budget.limits.monthly_eur_cap))
    rid = reservation.id if reservation is not None else None
    spend = SpendRow(
        rid, call.provider, call.model, call.task, call.prompt_tokens, call.completion_tokens,
        cost.amount, cost.currency, cost.rate_to_eur, cost.amount_eur, day, month,
        call.correlation_id, moment,
    )  # fmt: skip
    outcome = budget.store.settle(reservation, charges, spend, moment)
    budget.alerts.after_commit(outcome.usage, call.correlation_id, moment)
    return SpendResult(
        rid, call.provider, call.model, call.task, call.prompt_tokens, call.completion_tokens,
        cost, day, month, moment, outcome.late,
    )  # fmt: skip
