"""``agent-platform runs list``: recent agent runs from their ledgers, on the embedded SQLite
database of a fresh data folder (and on PostgreSQL for the catalog query)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agent_platform.cli import main
from agent_platform.commands.run import _resolve_run_id
from agent_platform.db import create_engine_for
from agent_platform.migrate import upgrade
from agent_platform.orchestration.recorder import RunRecorder, ledger_name
from agent_platform.orchestration.run_catalog import recent_runs
from agent_platform.state.ledger_replay import Ledger

TOPOLOGY = {"nodes": ["planner", "coder", "reviewer"]}


def _record(url: str, run_id: str, title: str, finished: dict[str, object] | None) -> None:
    engine = create_engine_for(url)
    try:
        recorder = RunRecorder(Ledger(engine, ledger_name(run_id)), run_id)
        recorder.started({"title": title, "description": "d"}, {"policy": "p"}, TOPOLOGY)
        recorder.node({"node": "planner", "step": 1})
        if finished is not None:
            time.sleep(0.05)  # a measurable duration between the first and last entry
            recorder.finished(finished)
    finally:
        engine.dispose()


def _three_runs(url: str) -> None:
    _record(url, "run-a", "add a cache", {"decision": {"approved": True}, "cost_eur": 0.0125})
    time.sleep(0.02)
    _record(url, "run-b", "rename a flag", {"decision": {"approved": False}, "cost_eur": 0.5})
    time.sleep(0.02)
    _record(url, "run-c", "paused task", None)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENT_PLATFORM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("AGENT_PLATFORM_DATABASE_URL", raising=False)
    monkeypatch.delenv("AGENT_PLATFORM_REDIS_URL", raising=False)
    upgrade(f"sqlite:///{tmp_path / 'agent_platform.sqlite3'}")
    return tmp_path


def test_runs_list_shows_id_task_outcome_cost_and_duration_newest_first(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _three_runs(f"sqlite:///{data_dir / 'agent_platform.sqlite3'}")
    assert main(["runs", "list", "--json"]) == 0
    captured = capsys.readouterr()
    runs = json.loads(captured.out)["runs"]
    assert [(r["run_id"], r["task"], r["outcome"], r["cost_eur"]) for r in runs] == [
        ("run-c", "paused task", "paused", None),
        ("run-b", "rename a flag", "rejected", 0.5),
        ("run-a", "add a cache", "approved", 0.0125),
    ]
    assert runs[1]["duration_s"] >= 0.05 and runs[1]["entries"] == 3
    assert "3 run(s) in the sqlite database" in captured.err

    assert main(["runs", "list", "--limit", "1"]) == 0
    human = capsys.readouterr().out
    assert "run-c" in human and "run-a" not in human and "1 run(s)" in human


def test_runs_list_on_an_empty_database_says_so(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "list"]) == 0
    assert capsys.readouterr().out.strip() == "0 run(s) in the sqlite database"


def test_a_bad_limit_is_exit_2_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["runs", "list", "--limit", "zero"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "allowed: an integer 1..10000" in err[0]


@pytest.mark.postgres
def test_the_catalog_reads_runs_on_postgresql(pg_url: str) -> None:
    _three_runs(pg_url)
    engine = create_engine_for(pg_url)
    try:
        runs = recent_runs(engine, limit=2)
    finally:
        engine.dispose()
    assert [(r.run_id, r.outcome) for r in runs] == [("run-c", "paused"), ("run-b", "rejected")]


def test_replay_last_names_the_newest_run_or_says_there_is_none(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", "last"]) == 2
    assert capsys.readouterr().err.strip() == (
        "agent-platform: error: replay last: the database holds no agent run yet"
    )
    url = f"sqlite:///{data_dir / 'agent_platform.sqlite3'}"
    _three_runs(url)
    engine = create_engine_for(url)
    try:
        assert _resolve_run_id(engine, "last") == "run-c"
        assert _resolve_run_id(engine, "run-a") == "run-a"
    finally:
        engine.dispose()
