"""FinOps guardrails on real PostgreSQL, Redis and SQLite: atomic caps, expiry, alerts, forecast."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from agent_platform.cli import main as cli_main
from agent_platform.config import Settings
from agent_platform.db import create_engine_for
from agent_platform.errors import BudgetExceededError, InvalidInputError, ReservationError
from agent_platform.finops import FinOpsBudget, budget_from_settings, load_finops, open_store
from agent_platform.finops.redis_store import RedisBudgetStore
from agent_platform.finops.tables import budget_alerts, spend_records
from agent_platform.migrate import upgrade
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
    assert not budget.check_budget("coding", 1000, "openai", now=NOON)
    assert budget.check_budget("coding", 1000, "local", now=NOON)  # local: tokens only
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


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_sql_reserve_and_commit_lock_and_write_each_window_in_one_statement(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """A reserve is: the expired-reservation read, one upsert creating and locking the three
    counters, one executemany UPDATE and the reservation row (plus BEGIN IMMEDIATE on SQLite);
    a commit: the upsert, settling the reservation, the UPDATE and the spend row."""
    url = request.getfixturevalue("sqlite_url" if kind == "sqlite" else "pg_url")
    backend = Backend(kind, url, None, "")
    budget = backend.budget()
    statements: list[str] = []
    sa.event.listen(
        backend.engine, "before_cursor_execute", lambda *a, **k: statements.append(a[2])
    )
    begin = 1 if kind == "sqlite" else 0
    for minute in range(2):  # new counters, then the day and month counters exist already
        moment = NOON + timedelta(minutes=minute)
        statements.clear()
        hold = budget.reserve("openai", "gpt-4o", "coding", 1000, now=moment)
        assert len(statements) == begin + 4, statements
        statements.clear()
        budget.commit(hold, 400, 500, now=moment)
        assert len(statements) == begin + 4, statements
    usage = budget.store.usage([budget.calendar.token_key("openai", NOON), "day:2026-11-26"])
    assert usage["day:2026-11-26"].limit == Decimal("1.000000")
    assert usage["day:2026-11-26"].committed == Decimal("0.010320")
    assert usage[budget.calendar.token_key("openai", NOON)].limit == 10_000_000
    assert usage[budget.calendar.token_key("openai", NOON)].committed == 900
    backend.close()


def test_redis_rebuilds_a_lost_token_window_from_the_spend_charged_to_it(
    pg_url: str, redis_url: str, redis_prefix: str
) -> None:
    backend = Backend("redis", pg_url, redis_url, redis_prefix)
    budget = backend.budget()
    budget.commit(budget.reserve("openai", "gpt-4o", "coding", 1000, now=NOON), 400, 500, now=NOON)
    # Reserved the evening before (Berlin), settled late inside this window: charged to the
    # windows of the evening it was reserved, so this window's rebuild must leave it out.
    evening = datetime(2026, 11, 25, 22, 59, 30, tzinfo=UTC)
    late = budget.commit(
        budget.reserve("openai", "gpt-4o", "coding", 1000, now=evening), 1, 2, now=NOON
    )
    assert late.late and late.day_key == "day:2026-11-25"
    assert backend.client is not None
    backend.client.delete(*backend.client.scan_iter(match=f"{redis_prefix}*"))
    again = backend.budget()
    again.reserve("openai", "gpt-4o", "coding", 1000, now=NOON)
    window = again.get_remaining_budget(now=NOON).tokens["openai"]
    assert (window.committed, window.reserved) == (900, 1000)
    backend.close()


WORKER = textwrap.dedent(
    """
    import json, sys, threading
    from datetime import datetime
    import redis
    from agent_platform.db import create_engine_for
    from agent_platform.errors import BudgetExceededError
    from agent_platform.finops import FinOpsBudget, open_store
    from agent_platform.models.config import load_routing
    from agent_platform.schemas.finops import FinOpsConfig
    url, redis_url, prefix, config, threads, moment = sys.argv[1:7]
    now = datetime.fromisoformat(moment)
    finops = FinOpsConfig.model_validate_json(config)
    engine = create_engine_for(url, pool_size=int(threads), max_overflow=0)
    client = redis.Redis.from_url(redis_url) if redis_url != "-" else None
    store = open_store(engine, finops, redis_client=client, redis_prefix=prefix)
    budget = FinOpsBudget(finops, load_routing(), store)
    counts = {"ok": 0, "refused": 0, "local_ok": 0, "local_refused": 0}
    lock = threading.Lock()
    def attempt(provider, model, key):
        try:
            hold = budget.reserve(provider, model, "coding", 1000, now=now)
        except BudgetExceededError:
            with lock: counts[key + "refused"] += 1
            return
        budget.commit(hold, 400, 500, now=now)
        with lock: counts[key + "ok"] += 1
    def work():
        for _ in range(3):
            attempt("openai", "gpt-4o", "")
            attempt("local", "local-llm", "local_")
    pool = [threading.Thread(target=work) for _ in range(int(threads))]
    [t.start() for t in pool]; [t.join() for t in pool]
    print(json.dumps(counts))
    """
)


def _watch(budget: FinOpsBudget, procs: list[subprocess.Popen[str]]) -> tuple[Decimal, Decimal]:
    """The highest committed + reserved seen on the day and on local's token window while the
    workers run (polled from this process)."""
    worst_day = worst_tokens = Decimal(0)
    deadline = time.monotonic() + 120
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        status = budget.get_remaining_budget(now=NOON)
        local = status.tokens["local"]
        worst_day = max(worst_day, status.day.committed + status.day.reserved)
        worst_tokens = max(worst_tokens, local.committed + local.reserved)
    return worst_day, worst_tokens


@pytest.mark.parametrize("kind", ["postgres", "redis", "sqlite"])
def test_64_concurrent_workers_in_2_processes_never_breach(
    kind: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("sqlite_url" if kind == "sqlite" else "pg_url")
    redis_url = request.getfixturevalue("redis_url") if kind == "redis" else "-"
    prefix = request.getfixturevalue("redis_prefix") if kind == "redis" else ""
    # 58 holds of 0.0086 EUR fit the day (each settles at 0.00516); local's token ceiling of
    # 5,000 fits exactly 5 calls of 900 tokens. 64 workers x 3 tries ask for 192 of each.
    finops = _finops(daily="0.50")
    backend = Backend(kind, url, None if redis_url == "-" else redis_url, prefix)
    budget = backend.budget(finops)  # also validates the tuned config before the workers start
    args = [url, redis_url, prefix, finops.model_dump_json(), "32", NOON.isoformat()]
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, *args], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    worst_day, worst_tokens = _watch(budget, procs)
    results = [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    ok, local_ok = sum(r["ok"] for r in results), sum(r["local_ok"] for r in results)
    assert ok + sum(r["refused"] for r in results) == 64 * 3
    assert local_ok + sum(r["local_refused"] for r in results) == 64 * 3
    assert worst_day <= Decimal("0.50") and worst_tokens <= 5000
    status = budget.get_remaining_budget(now=NOON)
    assert status.day.reserved == 0 and status.tokens["local"].reserved == 0
    assert (
        status.day.committed == backend.spend_total() == Decimal("0.005160") * ok <= Decimal("0.50")
    )
    assert ok >= 58  # the refused requests really were over the cap, not lost to errors
    assert local_ok == 5 and status.tokens["local"].committed == 4500
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


def _settings(tmp_path: Path, database_url: str | None, redis_url: str | None) -> Settings:
    env = {"AGENT_PLATFORM_DATA_DIR": str(tmp_path)}
    if database_url:
        env["AGENT_PLATFORM_DATABASE_URL"] = database_url
    if redis_url:
        env["AGENT_PLATFORM_REDIS_URL"] = redis_url
    return Settings.from_env(env)


def test_with_a_redis_url_the_counters_live_in_a_redis_lua_script(
    tmp_path: Path, pg_url: str, redis_url: str, redis_prefix: str
) -> None:
    settings = _settings(tmp_path, pg_url, redis_url)
    budget, close = budget_from_settings(settings, redis_prefix=redis_prefix)
    try:
        assert budget.backend == "redis"
        hold = budget.reserve("openai", "gpt-4o", "coding", 1000, now=NOON)
        client = redis.Redis.from_url(redis_url)
        store = budget.store
        assert isinstance(store, RedisBudgetStore)
        assert client.script_exists(store._reserve.sha) == [True]  # served by EVALSHA
        key = f"{redis_prefix}{{finops}}:res:{hold.id}"
        assert client.hget(key, "status") == b"active"
        budget.commit(hold, 400, 500, now=NOON)
        assert client.hget(key, "status") == b"committed"
        client.close()
    finally:
        close()
    sql = Backend("postgres", pg_url, None, "")
    assert sql.spend_total() == Decimal("0.005160")  # the spend record is in PostgreSQL
    assert sql.budget().store.usage(["day:2026-11-26"]) == {}  # its SQL counters went unused
    sql.close()


def test_on_postgresql_a_reservation_waits_for_the_counter_row_lock(
    tmp_path: Path, pg_url: str
) -> None:
    budget, close = budget_from_settings(_settings(tmp_path, pg_url, None))
    assert budget.backend == "postgresql"
    budget.release(budget.reserve("openai", "gpt-4o", "coding", 1000, now=NOON), now=NOON)
    engine = create_engine_for(pg_url)
    done: list[object] = []
    waiter = threading.Thread(
        target=lambda: done.append(budget.reserve("openai", "gpt-4o", "coding", 1000, now=NOON))
    )
    with engine.connect() as holder:
        holder.execute(
            sa.text("SELECT 1 FROM budget_counters WHERE window_key = :k FOR UPDATE"),
            {"k": "day:2026-11-26"},
        )
        waiter.start()
        waiting = _wait_for_lock_waiter(engine)
        assert waiting == 1 and done == []  # blocked on the row lock, not finished
        holder.rollback()
    waiter.join(timeout=30)
    assert len(done) == 1
    assert budget.get_remaining_budget(now=NOON).day.reserved == Decimal("0.008600")
    close()
    engine.dispose()


def _wait_for_lock_waiter(engine: sa.Engine) -> int:
    """Backends of this database waiting on a lock in a statement over ``budget_counters`` (the
    store's locking upsert; bounded poll; a fresh transaction each time, since pg_stat_activity
    is a snapshot within one)."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query ILIKE '%budget_counters%' "
        "AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + 30
    count = 0
    while count == 0 and time.monotonic() < deadline:
        with engine.connect() as conn:
            count = int(conn.execute(query).scalar() or 0)
        time.sleep(0.01)
    return count


def test_without_urls_the_budget_is_the_embedded_sqlite_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path, None, None)
    upgrade(settings.effective_database_url)
    budget, close = budget_from_settings(settings)
    try:
        assert budget.backend == "sqlite"
        budget.commit(budget.reserve("local", "local-llm", "coding", 100, now=NOON), 40, 50)
        assert (tmp_path / "agent_platform.sqlite3").exists()
    finally:
        close()


def test_budget_status_cli_reports_the_spend(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENT_PLATFORM_DATABASE_URL", pg_url)
    monkeypatch.delenv("AGENT_PLATFORM_REDIS_URL", raising=False)
    budget, close = budget_from_settings()
    budget.commit(budget.reserve("openai", "gpt-4o", "coding", 1000), 400, 500)
    close()
    assert cli_main(["budget", "status"]) == 0
    out = capsys.readouterr().out
    assert "phase 1 on postgresql" in out
    assert "cap 450 EUR, committed 0.005160, reserved 0.000000" in out
