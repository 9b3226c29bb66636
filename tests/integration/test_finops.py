"""FinOps guardrails on real PostgreSQL, Redis and SQLite: atomic caps, expiry, alerts, forecast."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis
import sqlalchemy as sa

from agent_platform.db import create_engine_for
from agent_platform.errors import BudgetExceededError, InvalidInputError, ReservationError
from agent_platform.finops import FinOpsBudget, load_finops, open_store
from agent_platform.finops.tables import budget_alerts, spend_records
from agent_platform.models.config import load_routing
from agent_platform.models.testing import RecordingSink, tuned_finops

ROUTING = load_routing()
BASE = load_finops(routing=ROUTING)
NOON = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)


def _finops(
    daily: str = "1.00", monthly: str = "10.00", ttl: float = 120.0, openai_tokens: int = 10_000_000
):
    providers = {
        "openai": {"max_tokens": openai_tokens, "models": ["gpt-4o-mini", "gpt-4o"]},
        "anthropic": {"max_tokens": 10_000_000, "models": None},
        "local": {"max_tokens": 5_000, "models": None},
    }
    return tuned_finops(
        BASE,
        reservation_ttl_s=ttl,
        phase_1={
            "daily_eur_cap": Decimal(daily),
            "monthly_eur_cap": Decimal(monthly),
            "providers": providers,
        },
    )


class Backend:
    def __init__(self, kind: str, url: str, redis_url: str | None, prefix: str) -> None:
        self.kind, self.url, self.redis_url, self.prefix = kind, url, redis_url, prefix
        self.engine = create_engine_for(
            url, **({} if kind == "sqlite" else {"pool_size": 16, "max_overflow": 40})
        )
        self.client = redis.Redis.from_url(redis_url) if redis_url else None

    def budget(self, finops=None, **kwargs) -> FinOpsBudget:
        finops = finops or _finops()
        store = open_store(self.engine, finops, redis_client=self.client, redis_prefix=self.prefix)
        return FinOpsBudget(finops, ROUTING, store, **kwargs)

    def spend_total(self) -> Decimal:
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(spend_records.c.amount_eur), 0))
            ).scalar()
        return Decimal(str(value)).quantize(Decimal("0.000001"))

    def alerts(self) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(budget_alerts.c.window_key, budget_alerts.c.level))
            return sorted((r.window_key, r.level) for r in rows)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        self.engine.dispose()


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    kind = request.param
    if kind == "sqlite":
        made = Backend(kind, request.getfixturevalue("sqlite_url"), None, "")
    elif kind == "postgres":
        made = Backend(kind, request.getfixturevalue("pg_url"), None, "")
    else:
        made = Backend(
            kind,
            request.getfixturevalue("pg_url"),
            request.getfixturevalue("redis_url"),
            request.getfixturevalue("redis_prefix"),
        )
    yield made
    made.close()


def test_reserve_commit_release_reconcile_to_the_micro_euro(backend: Backend) -> None:
    budget = backend.budget()
    hold = budget.reserve("openai", "gpt-4o", "coding", 1000, correlation_id="c-1", now=NOON)
    assert hold.amount_eur == Decimal("0.008600")  # 1000 tokens at 0.01 USD/1k x 0.86
    status = budget.get_remaining_budget(now=NOON)
    assert status.day.reserved == Decimal("0.008600")
    spend = budget.commit(hold, 400, 500, now=NOON)
    # 400 x 0.0025 + 500 x 0.01 per 1k = 0.006 USD -> 0.00516 EUR
    assert (spend.cost.amount, spend.cost.rate_to_eur, spend.amount_eur) == (
        Decimal("0.006000"),
        Decimal("0.86"),
        Decimal("0.005160"),
    )
    status = budget.get_remaining_budget(now=NOON)
    assert (status.day.committed, status.day.reserved) == (Decimal("0.005160"), Decimal("0"))
    assert status.tokens["openai"].committed == 900
    other = budget.reserve("anthropic", "claude-3-5-sonnet-20241022", "review", 500, now=NOON)
    assert budget.release(other, now=NOON) is True
    with pytest.raises(ReservationError):
        budget.release(other, now=NOON)
    with pytest.raises(ReservationError):
        budget.commit(hold, 1, 1, now=NOON)
    assert backend.spend_total() == Decimal("0.005160")


def test_over_cap_is_refused_and_local_only_keeps_its_token_ceiling(backend: Backend) -> None:
    budget = backend.budget(_finops(daily="0.02"))
    first = budget.reserve("openai", "gpt-4o", "coding", 2000, now=NOON)  # 0.0172 EUR
    with pytest.raises(BudgetExceededError, match="day:2026-11-26"):
        budget.reserve("openai", "gpt-4o", "coding", 1000, now=NOON)
    assert not budget.can_afford("coding", 1000, "openai", now=NOON)
    local = budget.reserve("local", "local-llm", "coding", 4000, now=NOON)
    assert local.amount_eur == 0 and [h.window_key.split(":")[0] for h in local.holds] == ["tokens"]
    with pytest.raises(BudgetExceededError, match="tokens:local:minute"):
        budget.reserve("local", "local-llm", "coding", 2000, now=NOON)
    budget.release(first, now=NOON)
    budget.reserve("openai", "gpt-4o", "coding", 1000, now=NOON)


def test_bad_input_is_a_typed_error_naming_the_key(backend: Backend) -> None:
    budget = backend.budget()
    with pytest.raises(InvalidInputError, match="token_estimate"):
        budget.reserve("openai", "gpt-4o", "coding", -5, now=NOON)
    with pytest.raises(InvalidInputError, match="provider 'mistral'"):
        budget.reserve("mistral", "x", "coding", 10, now=NOON)
    with pytest.raises(InvalidInputError, match="model 'gpt-5'"):
        budget.reserve("openai", "gpt-5", "coding", 10, now=NOON)
    with pytest.raises(InvalidInputError, match="task 'poetry'"):
        budget.reserve("openai", "gpt-4o", "poetry", 10, now=NOON)
    with pytest.raises(InvalidInputError, match="phase 7"):
        backend.budget(phase=7)


def test_expired_reservation_is_reclaimed_and_a_late_commit_still_counts(backend: Backend) -> None:
    budget = backend.budget(_finops(daily="0.02", ttl=60))
    hold = budget.reserve("openai", "gpt-4o", "coding", 2000, now=NOON)
    with pytest.raises(BudgetExceededError):
        budget.reserve("openai", "gpt-4o", "coding", 1000, now=NOON + timedelta(seconds=59))
    later = budget.reserve("openai", "gpt-4o", "coding", 1000, now=NOON + timedelta(seconds=61))
    spend = budget.commit(hold, 100, 100, now=NOON + timedelta(seconds=62))
    assert spend.late is True
    budget.commit(later, 100, 100, now=NOON + timedelta(seconds=62))
    status = budget.get_remaining_budget(now=NOON + timedelta(seconds=62))
    assert status.day.reserved == 0 and status.day.committed == backend.spend_total()


def test_alerts_fire_once_per_window_and_level_even_across_instances(backend: Backend) -> None:
    sink = RecordingSink()
    finops = _finops(daily="0.10", monthly="100")
    first, second = backend.budget(finops, sink=sink), backend.budget(finops, sink=sink)
    # Each call costs 0.00516 EUR: 16 calls reach 82.56 % of 0.10, 18 calls 92.88 %.
    for index in range(18):
        budget = first if index % 2 else second
        hold = budget.reserve(
            "openai", "gpt-4o", "coding", 1000, correlation_id=f"req-{index}", now=NOON
        )
        budget.commit(hold, 400, 500, now=NOON)
    assert backend.alerts() == [("day:2026-11-26", "threshold")]
    with pytest.raises(BudgetExceededError):
        for _ in range(5):
            hold = first.reserve("openai", "gpt-4o", "coding", 1000, now=NOON)
            first.commit(hold, 400, 500, now=NOON)
    with pytest.raises(BudgetExceededError):
        second.reserve("openai", "gpt-4o", "coding", 1000, now=NOON)
    assert backend.alerts() == [("day:2026-11-26", "cap"), ("day:2026-11-26", "threshold")]
    levels = [e["payload"]["level"] for e in sink.events]
    assert levels == ["threshold", "cap"]
    assert sink.events[0]["correlation_id"] == "req-15"  # the call that crossed 80 %


def test_forecast_alert_leads_the_monthly_cap(backend: Backend) -> None:
    finops = _finops(daily="50", monthly="100")
    clock_now = [datetime(2026, 11, 1, 0, 30, tzinfo=UTC)]
    budget = backend.budget(finops, clock=lambda: clock_now[0])
    forecast_at = refused_at = None
    for day in range(30):  # one call a day of 3.87 EUR: the 100 EUR cap refuses on day 26
        clock_now[0] = datetime(2026, 11, 1, 12, tzinfo=UTC) + timedelta(days=day)
        try:
            hold = budget.reserve("openai", "gpt-4o", "coding", 1_000_000)
        except BudgetExceededError:
            refused_at = clock_now[0]
            break
        budget.commit(hold, 200_000, 400_000)
        if forecast_at is None and ("month:2026-11", "forecast") in backend.alerts():
            forecast_at = clock_now[0]
    assert forecast_at == datetime(2026, 11, 2, 12, tzinfo=UTC)  # first day past 24 h elapsed
    assert refused_at is not None and ("month:2026-11", "cap") in backend.alerts()
    assert refused_at - forecast_at >= timedelta(days=20)
    forecast = budget.forecast(now=forecast_at)
    assert forecast.reliable and forecast.projected_breach_at is not None
    assert forecast_at < forecast.projected_breach_at < datetime(2026, 12, 1, tzinfo=UTC)


def test_restart_loses_no_spend(backend: Backend) -> None:
    budget = backend.budget()
    hold = budget.reserve("openai", "gpt-4o", "coding", 1000, now=NOON)
    budget.commit(hold, 400, 500, now=NOON)
    if backend.client is not None:  # Redis lost its data: only this test's keys
        keys = list(backend.client.scan_iter(match=f"{backend.prefix}*"))
        backend.client.delete(*keys)
    again = backend.budget()
    second = again.reserve("openai", "gpt-4o", "coding", 1000, now=NOON)
    again.commit(second, 400, 500, now=NOON)
    assert again.get_remaining_budget(now=NOON).day.committed == Decimal("0.010320")


WORKER = textwrap.dedent(
    """
    import json, sys, threading
    from decimal import Decimal
    import redis
    from agent_platform.db import create_engine_for
    from agent_platform.errors import BudgetExceededError
    from agent_platform.finops import FinOpsBudget, open_store
    from agent_platform.models.config import load_routing
    from agent_platform.schemas.finops import FinOpsConfig
    url, redis_url, prefix, config, threads = sys.argv[1:6]
    routing = load_routing()
    finops = FinOpsConfig.model_validate_json(config)
    engine = create_engine_for(url, pool_size=int(threads), max_overflow=0)
    client = redis.Redis.from_url(redis_url) if redis_url != "-" else None
    budget = FinOpsBudget(finops, routing, open_store(engine, finops, redis_client=client, redis_prefix=prefix))
    counts = {"ok": 0, "refused": 0}
    lock = threading.Lock()
    def work():
        for _ in range(3):
            try:
                hold = budget.reserve("openai", "gpt-4o", "coding", 1000)
            except BudgetExceededError:
                with lock: counts["refused"] += 1
                continue
            budget.commit(hold, 400, 500)
            with lock: counts["ok"] += 1
    pool = [threading.Thread(target=work) for _ in range(int(threads))]
    [t.start() for t in pool]; [t.join() for t in pool]
    print(json.dumps(counts))
    """
)


@pytest.mark.parametrize("kind", ["postgres"])
def test_64_concurrent_workers_in_2_processes_never_breach(
    kind: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_url")
    redis_url = request.getfixturevalue("redis_url") if kind == "redis" else "-"
    prefix = request.getfixturevalue("redis_prefix") if kind == "redis" else ""
    finops = _finops(daily="0.50")  # 58 holds of 0.0086 fit; 64 workers x 3 tries ask for 192
    backend = Backend(kind, url, None if redis_url == "-" else redis_url, prefix)
    backend.budget(finops)  # validates the tuned config before the workers start
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, redis_url, prefix, finops.model_dump_json(), "32"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]
    ok = sum(r["ok"] for r in results)
    assert ok + sum(r["refused"] for r in results) == 64 * 3
    total = backend.spend_total()
    assert total == Decimal("0.005160") * ok
    assert total <= Decimal("0.50")
    day = backend.budget(finops).get_remaining_budget().day
    assert day.committed + day.reserved <= Decimal("0.50") and day.reserved == 0
    assert ok >= 58  # the refused requests really were over the cap, not lost to errors
    backend.close()


@pytest.mark.parametrize("kind", ["postgres", "redis"])
def test_64_concurrent_threads_keep_committed_plus_reserved_under_the_cap(
    kind: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_url")
    redis_url = request.getfixturevalue("redis_url") if kind == "redis" else None
    backend = Backend(
        kind, url, redis_url, request.getfixturevalue("redis_prefix") if redis_url else ""
    )
    budget = backend.budget(_finops(daily="0.30"))
    stop, worst, errors = threading.Event(), [Decimal(0)], []

    def monitor() -> None:
        while not stop.is_set():
            day = budget.get_remaining_budget().day
            worst[0] = max(worst[0], day.committed + day.reserved)

    def work() -> None:
        for _ in range(4):
            try:
                hold = budget.reserve("openai", "gpt-4o", "coding", 1000)
                budget.commit(hold, 400, 500)
            except BudgetExceededError:
                continue
            except Exception as exc:  # recorded and asserted below
                errors.append(exc)

    watcher = threading.Thread(target=monitor)
    watcher.start()
    workers = [threading.Thread(target=work) for _ in range(64)]
    [t.start() for t in workers]
    [t.join() for t in workers]
    stop.set()
    watcher.join()
    assert errors == []
    assert worst[0] <= Decimal("0.30")
    assert Decimal(0) < backend.spend_total() <= Decimal("0.30")
    backend.close()


CRASHER = textwrap.dedent(
    """
    import os, signal, sys
    import redis
    from agent_platform.db import create_engine_for
    from agent_platform.finops import FinOpsBudget, open_store
    from agent_platform.models.config import load_routing
    from agent_platform.schemas.finops import FinOpsConfig
    url, redis_url, prefix, config = sys.argv[1:5]
    finops = FinOpsConfig.model_validate_json(config)
    client = redis.Redis.from_url(redis_url) if redis_url != "-" else None
    store = open_store(create_engine_for(url), finops, redis_client=client, redis_prefix=prefix)
    hold = FinOpsBudget(finops, load_routing(), store).reserve("openai", "gpt-4o", "coding", 2000)
    print(hold.id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_crashed_callers_reservation_expires(backend: Backend) -> None:
    finops = _finops(daily="0.02", ttl=30)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASHER,
            backend.url,
            backend.redis_url or "-",
            backend.prefix,
            finops.model_dump_json(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL and len(proc.stdout.strip()) == 32
    budget = backend.budget(finops)
    now = datetime.now(UTC)
    with pytest.raises(BudgetExceededError):
        budget.reserve("openai", "gpt-4o", "coding", 1000, now=now)
    assert budget.get_remaining_budget(now=now).day.reserved == Decimal("0.017200")
    after = now + timedelta(seconds=31)
    budget.reserve("openai", "gpt-4o", "coding", 1000, now=after)  # reclaimed lazily
    assert budget.get_remaining_budget(now=after).day.reserved == Decimal("0.008600")


def test_sweep_reclaims_without_a_new_reservation(backend: Backend) -> None:
    budget = backend.budget(_finops(ttl=5))
    for _ in range(3):
        budget.reserve(
            "openai", "gpt-4o-mini", "planning", 100, now=NOON, correlation_id=uuid.uuid4().hex
        )
    assert budget.sweep(now=NOON + timedelta(seconds=6)) == 3
    assert budget.get_remaining_budget(now=NOON).day.reserved == 0
