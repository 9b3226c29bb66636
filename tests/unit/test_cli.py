"""The CLI of the state fabric: workload, ledger verify and replay, and its error contract."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from agent_platform.cli import main
from agent_platform.config import project_root
from agent_platform.db import create_engine_for
from agent_platform.state.ledger_replay import Ledger
from agent_platform.state.tables import ledger_entries, ledger_heads
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
    argv = ["workload", "state-fabric", "--iterations", "300", "--sessions", "30"]
    assert main(argv) == 0
    assert "cache hit ratio" in capsys.readouterr().out
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # the whole of stdout is one JSON document
    assert "cache hit ratio" in captured.err and "ledger head signed" in captured.err
    assert result["backends"]["database"] == "sqlite" and result["backends"]["cache"] == "memory"
    assert result["hits"] + result["misses"] == result["get_ms"]["count"]
    assert result["ledger_verify_ok"] and result["state_integrity_ok"]
    assert result["ledger_appends"] == result["ledger_append_ms"]["count"] > 0
    assert result["ledger_checkpoint_seq"] == result["ledger_verify_entries"]


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


def _ledger(url: str, name: str, count: int) -> None:
    engine = create_engine_for(url)
    Ledger(engine, name).append_many([("e", {"n": n}) for n in range(count)])
    engine.dispose()


def _edit_seq(url: str, name: str, seq: int) -> None:
    engine = create_engine_for(url)
    with engine.begin() as conn:
        conn.execute(
            sa.update(ledger_entries)
            .where(ledger_entries.c.ledger == name, ledger_entries.c.seq == seq)
            .values(payload='{"n":9}')
        )
    engine.dispose()


def test_ledger_verify_exit_codes(embedded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger", "verify"]) == 0  # migrates the embedded database: no ledger yet
    assert "verified 0 ledger(s)" in capsys.readouterr().out
    _ledger(embedded, "default", 5)
    assert main(["ledger", "verify"]) == 0
    assert "5 entries" in capsys.readouterr().out
    _edit_seq(embedded, "default", 3)
    assert main(["ledger", "verify"]) == 1
    assert "seq 3" in capsys.readouterr().out


def test_verify_without_a_name_checks_every_ledger(
    embedded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["migrate"])
    for name, count in (("run:aaa", 3), ("run:bbb", 4), ("workload", 2)):
        _ledger(embedded, name, count)
    capsys.readouterr()
    assert main(["ledger", "verify"]) == 0
    out = capsys.readouterr().out
    assert "verified 3 ledger(s): 3 intact, 0 failed" in out
    assert "'run:bbb' intact: 4 entries" in out
    _edit_seq(embedded, "run:aaa", 2)
    assert main(["ledger", "verify", "--json"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["verified"] == 3 and report["failed"] == ["run:aaa"] and not report["ok"]
    failed = next(r for r in report["ledgers"] if r["ledger"] == "run:aaa")
    assert failed["first_bad_seq"] == 2 and failed["kind"] == "chain"
    assert "FAILED at seq 2" in captured.err


def test_unknown_ledger_is_bad_input_naming_the_closest(
    embedded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["migrate"])
    _ledger(embedded, "run:5f2a", 2)
    _ledger(embedded, "workload", 2)
    capsys.readouterr()
    for command in ("verify", "checkpoint"):
        assert main(["ledger", command, "--ledger", "workloda"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "no ledger 'workloda'" in err
        assert "closest: 'workload'" in err
    assert main(["ledger", "replay", "--consumer", "c", "--ledger", "zzz", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["exit_code"] == 2


def test_a_deleted_ledger_that_a_checkpoint_names_is_missing(
    embedded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["migrate"])
    _ledger(embedded, "run:gone", 6)
    capsys.readouterr()
    assert main(["ledger", "checkpoint", "--json"]) == 0
    captured = capsys.readouterr()
    signed = json.loads(captured.out)
    assert signed["ok"] and signed["ledgers"][0]["checkpoint"]["seq"] == 6
    assert "generated a new ledger checkpoint key" in captured.err
    assert main(["ledger", "checkpoint"]) == 0
    assert "head seq 6 is already signed" in capsys.readouterr().out
    engine = create_engine_for(embedded)
    with engine.begin() as conn:
        conn.execute(sa.delete(ledger_entries))
        conn.execute(sa.delete(ledger_heads))
    engine.dispose()
    assert main(["ledger", "verify", "--ledger", "run:gone"]) == 1
    assert "ledger missing" in capsys.readouterr().out
    assert main(["ledger", "verify"]) == 1  # every ledger includes the ones only signed
    assert "1 failed" in capsys.readouterr().out


def test_ledger_list_shows_entries_heads_and_signatures(
    embedded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["migrate"])
    _ledger(embedded, "alpha", 3)
    _ledger(embedded, "beta", 1)
    main(["ledger", "checkpoint", "--ledger", "alpha"])
    capsys.readouterr()
    assert main(["ledger", "list"]) == 0
    out = capsys.readouterr().out
    assert "alpha" in out and "beta" in out and "2 ledger(s)" in out
    assert main(["ledger", "list", "--json"]) == 0
    captured = capsys.readouterr()
    rows = {row["name"]: row for row in json.loads(captured.out)["ledgers"]}
    assert rows["alpha"]["entries"] == 3 and rows["alpha"]["checkpoint_seq"] == 3
    assert rows["beta"]["head_seq"] == 1 and rows["beta"]["checkpoint_seq"] is None
    assert len(rows["alpha"]["head_hash"]) == 64 and rows["beta"]["last_append"]
    assert "2 ledger(s)" in captured.err


def test_ledger_replay_applies_state_events(
    embedded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["migrate"])  # creates and migrates the embedded database
    engine = create_engine_for(embedded)
    Ledger(engine, "s").append_many(
        [("state.saved", {"session_id": "a", "payload": {"v": 1}}), ("other", {})]
    )
    engine.dispose()
    assert main(["ledger", "replay", "--consumer", "cli", "--ledger", "s"]) == 0
    out = capsys.readouterr().out
    assert "applied 2 entries" in out and "'saved': 1" in out
    argv = ["ledger", "replay", "--consumer", "cli", "--ledger", "s", "--apply", "count"]
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["applied"] == 0 and "applied 0 entries" in captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["ledger", "verify", "--ledger", "bad\udcffname"],
        ["ledger", "verify", "--ledger", "nul\x00name"],
        ["ledger", "checkpoint", "--ledger", "nul\x00name"],
        ["ledger", "replay", "--consumer", "c\udc80", "--ledger", "default"],
        ["ledger", "replay", "--consumer", "c\x00", "--ledger", "default"],
    ],
)
def test_unstorable_names_are_one_line_exit_2(
    embedded: str, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    main(["migrate"])
    _ledger(embedded, "default", 1)
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("agent-platform: error:")
    assert "Traceback" not in captured.err


def test_an_encoded_surrogate_argument_is_refused_by_the_real_command(
    embedded: str, tmp_path: Path
) -> None:
    env = {**os.environ, "AGENT_PLATFORM_DATA_DIR": str(tmp_path)}
    argv = ["ledger", "checkpoint", "--ledger"]
    done = subprocess.run(
        [sys.executable, "-m", "agent_platform.cli", *argv, b"run:\xed\xa0\x80"],
        capture_output=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2
    err = done.stderr.decode()
    assert "not valid UTF-8" in err and "Traceback" not in err


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
