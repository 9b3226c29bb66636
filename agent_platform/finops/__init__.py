"""FinOps guardrails: EUR budgets, reservations, token ceilings, alerts and forecasts."""

from agent_platform.finops._store import BudgetStore, Hold, Reservation, WindowUsage
from agent_platform.finops.config import load_finops
from agent_platform.finops.factory import budget_from_settings, open_store
from agent_platform.finops.forecast import Forecast
from agent_platform.finops.guardrails import BudgetStatus, FinOpsBudget, SpendResult, WindowStatus

__all__ = [
    "BudgetStatus",
    "BudgetStore",
    "FinOpsBudget",
    "Forecast",
    "Hold",
    "Reservation",
    "SpendResult",
    "WindowStatus",
    "WindowUsage",
    "budget_from_settings",
    "load_finops",
    "open_store",
]
