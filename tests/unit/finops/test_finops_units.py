"""Windows in the policy's time zone, Decimal pricing and the run-rate forecast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from agent_platform.errors import InvalidInputError
from agent_platform.finops.config import load_finops
from agent_platform.finops.forecast import project_month
from agent_platform.finops.pricing import PriceBook
from agent_platform.finops.windows import WindowCalendar
from agent_platform.models.config import load_routing


def test_windows_follow_the_configured_time_zone() -> None:
    calendar = WindowCalendar("Europe/Berlin", "minute")
    late = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # 00:30 on 1 December in Berlin
    assert calendar.day_key(late) == "day:2026-12-01"
    assert calendar.month_key(late) == "month:2026-12"
    assert calendar.token_key("openai", late) == "tokens:openai:minute:2026-12-01T00:30"
    span = calendar.span("month:2026-03")  # DST starts on 29 March
    assert span.start == datetime(2026, 2, 28, 23, tzinfo=UTC)
    assert span.end == datetime(2026, 3, 31, 22, tzinfo=UTC)
    day = calendar.span("day:2026-10-25")  # 25 hours long
    assert day.end - day.start == timedelta(hours=25)
    with pytest.raises(InvalidInputError):
        calendar.day_key(datetime(2026, 1, 1))
    with pytest.raises(InvalidInputError):
        calendar.day_key(datetime(2026, 1, 1))  # also once the memo holds a minute
    with pytest.raises(InvalidInputError):
        WindowCalendar("UTC", "week")


def test_memoised_keys_change_exactly_at_local_boundaries() -> None:
    calendar = WindowCalendar("Europe/Berlin", "minute")
    before = datetime(2026, 11, 30, 22, 59, 59, 999_000, tzinfo=UTC)  # 23:59:59.999 in Berlin
    assert calendar.day_key(before) == "day:2026-11-30"
    assert calendar.token_key("local", before).endswith("2026-11-30T23:59")
    after = before + timedelta(milliseconds=1)
    assert (calendar.day_key(after), calendar.month_key(after)) == (
        "day:2026-12-01",
        "month:2026-12",
    )
    assert calendar.day_key(before) == "day:2026-11-30"  # going back recomputes
    # A zone whose offset is not whole minutes (Monrovia 1971: -0:44:30) is never memoised.
    monrovia = WindowCalendar("Africa/Monrovia", "minute")
    noon = datetime(1971, 6, 1, 12, 0, 10, tzinfo=UTC)  # 11:15:40 local
    assert monrovia.token_key("p", noon).endswith("T11:15")
    assert monrovia.token_key("p", noon + timedelta(seconds=30)).endswith("T11:16")


def test_prices_are_decimal_and_estimates_round_up() -> None:
    routing = load_routing()
    prices = PriceBook(routing, load_finops(routing=routing))
    assert prices.estimate_eur("openai", "gpt-4o-mini", 1) == Decimal(
        "0.000001"
    )  # ceil of 0.000000516
    cost = prices.actual("anthropic", "claude-3-5-sonnet-20241022", 1000, 1000)
    assert (cost.amount, cost.currency, cost.amount_eur) == (
        Decimal("0.018000"),
        "USD",
        Decimal("0.015480"),
    )
    assert prices.actual("local", "local-llm", 10**6, 10**6).amount_eur == 0
    with pytest.raises(InvalidInputError, match="gpt-2"):
        prices.estimate_eur("openai", "gpt-2", 10)


def test_forecast_projects_the_breach_time() -> None:
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    now = start + timedelta(days=10)
    forecast = project_month("month:2026-11", Decimal("500"), Decimal("1200"), start, end, now, 24)
    assert forecast.projected_month_end_eur == Decimal("1500.000000")
    assert forecast.projected_breach_at == start + timedelta(days=24)
    calm = project_month("month:2026-11", Decimal("100"), Decimal("1200"), start, end, now, 24)
    assert calm.projected_breach_at is None and not calm.will_breach
    early = project_month(
        "month:2026-11", Decimal("100"), Decimal("120"), start, end, start + timedelta(hours=2), 24
    )
    assert early.will_breach and not early.reliable
