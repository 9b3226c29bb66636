"""FinOps guardrails: EUR budgets, reservations, token ceilings, alerts and forecasts."""
