"""The CLI of the state fabric: workload, ledger verify and replay, and its error contract."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from agent_platform.cli import main
from agent_platform.config import project_root
from agent_platform.db import create_engine_for
from agent_platform.state.ledger_replay import Ledger
from agent_platform.state.tables import ledger_entries
from tests.support.servers import free_port


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The embedded default (SQLite + in-process cache) under tmp_path."""
    monkeypatch.delenv("AGENT_PLATFORM_DATABASE_URL", raising=False)
    monkeypatch.delenv("AGENT_PLATFORM_REDIS_URL", raising=False)
    monkeypatch.setenv("AGENT_PLATFORM_DATA_DIR", str(tmp_path))
    return f"sqlite:///{tmp_path / 'agent_platform.sqlite3'}"


def test_workload_runs_on_embedded_default(
    embedded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["workload", "state-fabric", "--iterations", "300", "--sessions", "30"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["backends"]["database"] == "sqlite" and result["backends"]["cache"] == "memory"
    assert result["hits"] + result["misses"] == result["get_ms"]["count"]
    assert result["ledger_verify_ok"] and result["state_integrity_ok"]
    assert result["ledger_appends"] == result["ledger_append_ms"]["count"] > 0
    assert "cache hit ratio" in out


@pytest.mark.parametrize(
    ("env", "value", "argv"),
    [
        (None, None, ["workload", "state-fabric", "--iterations", "0"]),
        ("AGENT_PLATFORM_DATABASE_URL", "mysql://db/x", ["ledger", "verify"]),
        ("AGENT_PLATFORM_DATABASE_URL", "::not a url::", ["workload", "state-fabric"]),
        ("AGENT_PLATFORM_REDIS_URL", "http://cache", ["workload", "state-fabric"]),
        (None, None, ["ledger", "verify", "--ledger", ""]),
    ],
)
def test_bad_input_prints_one_line_and_exits_2(
    embedded: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: str | None,
    value: str | None,
    argv: list[str],
) -> None:
    if env is not None and value is not None:
        monkeypatch.setenv(env, value)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("agent-platform: error:")
    if env is not None:
        assert env in err and str(value) in err


def test_ledger_verify_exit_codes(embedded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger", "verify"]) == 0  # migrates the embedded database, empty ledger
    engine = create_engine_for(embedded)
    Ledger(engine).append_many([("e", {"n": n}) for n in range(5)])
    assert main(["ledger", "verify"]) == 0
    assert "5 entries" in capsys.readouterr().out
    with engine.begin() as conn:
        conn.execute(
            sa.update(ledger_entries).where(ledger_entries.c.seq == 3).values(payload='{"n":9}')
        )
    engine.dispose()
    assert main(["ledger", "verify"]) == 1
    assert "seq 3" in capsys.readouterr().out


def test_ledger_replay_applies_state_events(
    embedded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["ledger", "verify"])  # creates and migrates the embedded database
    engine = create_engine_for(embedded)
    Ledger(engine, "s").append_many(
        [("state.saved", {"session_id": "a", "payload": {"v": 1}}), ("other", {})]
    )
    engine.dispose()
    assert main(["ledger", "replay", "--consumer", "cli", "--ledger", "s"]) == 0
    out = capsys.readouterr().out
    assert "applied 2 entries" in out and "'saved': 1" in out
    assert main(["ledger", "replay", "--consumer", "cli", "--ledger", "s", "--apply", "count"]) == 0
    assert "applied 0 entries" in capsys.readouterr().out


def _set(data: dict[str, Any], dotted: str, value: object) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data[int(part) if part.isdigit() else part]
    data[last] = value


@pytest.mark.parametrize(
    ("relative", "dotted", "value"),
    [
        ("configs/model_routing.yaml", "task_types.coding.fallback", "mystery"),
        ("configs/model_routing.yaml", "weights.cost", "cheap"),
        ("policies/finops.yaml", "phases.1.daily_eur_cap", -5),
    ],
)
def test_bad_config_file_prints_one_line_naming_it_and_exits_2(
    embedded: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    relative: str,
    dotted: str,
    value: object,
) -> None:
    """A command that loads configs from AGENT_PLATFORM_HOME meets a bad file."""
    home = tmp_path / "home"
    for name in ("configs/model_routing.yaml", "policies/finops.yaml"):
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(project_root() / name, home / name)
    data = yaml.safe_load((home / relative).read_text(encoding="utf-8"))
    _set(data, dotted, value)
    (home / relative).write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("AGENT_PLATFORM_HOME", str(home))
    assert main(["budget", "status"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in captured.err
    prefix = f"agent-platform: error: {home / relative}: {dotted}: got {value!r}; allowed: "
    assert err.startswith(prefix), err
    assert len(err) > len(prefix)


def test_migrations_come_from_the_checkout_not_the_config_home(
    embedded: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_PLATFORM_HOME", str(tmp_path / "configs-only"))
    assert main(["migrate"]) == 0
    engine = create_engine_for(embedded)
    try:
        assert "ledger_entries" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_unreachable_database_is_one_line_exit_1(
    embedded: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there
    monkeypatch.setenv("AGENT_PLATFORM_DATABASE_URL", f"postgresql://u:secret@127.0.0.1:{port}/x")
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("agent-platform: StorageError:")
    assert "secret" not in err and str(port) in err
