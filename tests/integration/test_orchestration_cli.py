"""``agent-platform run`` and ``replay`` end to end on PostgreSQL: the coder's dependencies are
checked through the supply-chain RegistryClient (a loopback registry), the run's events land in
the notification outbox when a destination is enabled, and the run replays from its ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from agent_platform.cli import main
from agent_platform.db import create_engine_for
from agent_platform.models.endpoints import LIVE_ENV_KEYS
from agent_platform.notifications.tables import outbox
from agent_platform.orchestration.testing import scenario_path
from tests.support.receivers import new_webhook_secret
from tests.support.registry_server import registry_server

pytestmark = pytest.mark.postgres


@pytest.fixture
def configs(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Supply-chain config on a loopback registry, one enabled webhook, the test database."""
    with registry_server() as registry:
        yield _write_configs(tmp_path, registry.url, pg_url, monkeypatch)


def _write_configs(
    tmp_path: Path, registry_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    chain = {"registries": {"pypi_url": registry_url, "retries": 0}, "cache": {"enabled": False}}
    (tmp_path / "supply_chain.yaml").write_text(yaml.safe_dump(chain))
    hook = {"name": "ops", "type": "webhook", "url": "http://127.0.0.1:9/hook"}
    notifications = {
        "security": {"allow_hosts": ["127.0.0.1"]},
        "destinations": [{**hook, "secret_env": "RUN_HOOK_SECRET", "events": ["agent_run.*"]}],
    }
    (tmp_path / "notifications.yaml").write_text(yaml.safe_dump(notifications))
    monkeypatch.setenv("RUN_HOOK_SECRET", new_webhook_secret())
    monkeypatch.setenv("AGENT_PLATFORM_DATABASE_URL", pg_url)
    for key in LIVE_ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    return tmp_path


def _task(folder: Path, dependency: str) -> Path:
    """The approving scenario, with the coder proposing ``dependency``."""
    task = yaml.safe_load(scenario_path("approve_first_pass").read_text())
    for response in task["simulation"]["responses"]:
        if "node=coder" in response["match"]:
            code = json.loads(response["content"])
            response["content"] = json.dumps({**code, "dependencies": [dependency]})
    path = folder / f"task_{dependency}.yaml"
    path.write_text(yaml.safe_dump(task))
    return path


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    """Run a command in --json mode: stdout must be exactly one JSON document."""
    code = main(list(argv))
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert isinstance(document, dict)
    document["_stderr"] = captured.err
    return code, document


def _outbox(pg_url: str, run_id: str) -> list[tuple[str, str]]:
    engine = create_engine_for(pg_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox.c.event_type, outbox.c.destination)
                .where(outbox.c.correlation_id == run_id)
                .order_by(outbox.c.created_at)
            ).all()
    finally:
        engine.dispose()
    return [(str(r[0]), str(r[1])) for r in rows]


def test_run_checks_dependencies_on_the_registry_and_publishes_its_events(
    configs: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
):
    flags = [
        "--json",
        "--supply-chain-config",
        str(configs / "supply_chain.yaml"),
        "--notifications-config",
        str(configs / "notifications.yaml"),
    ]
    code, approved = _cli(capsys, "run", str(_task(configs, "requests")), *flags)
    assert code == 0 and approved["decision"]["approved"] is True  # type: ignore[index]
    assert approved["simulated"] is True
    assert "decision: APPROVED" in str(approved["_stderr"])  # the human text moved to stderr
    assert _outbox(pg_url, str(approved["run_id"])) == [("agent_run.approved", "ops")]

    code, invented = _cli(capsys, "run", str(_task(configs, "reqeusts-fast")), *flags)
    assert code == 4 and invented["history"] == ["planner", "coder"]
    assert [v["rule"] for v in invented["violations"]] == ["unknown_dependency"]  # type: ignore[attr-defined]
    assert _outbox(pg_url, str(invented["run_id"])) == [
        ("agent_run.policy_violation", "ops"),
        ("agent_run.rejected", "ops"),
    ]

    code, replayed = _cli(capsys, "replay", str(invented["run_id"]), "--json")
    assert code == 0 and replayed["ok"] is True and replayed["history"] == ["planner", "coder"]
    assert "replay OK" in str(replayed["_stderr"])
    assert main(["replay", str(invented["run_id"])]) == 0
    human = capsys.readouterr()
    assert human.out.startswith(f"replay OK: run {invented['run_id']}") and human.err == ""


def test_a_missing_task_file_is_named(configs: Path, capsys: pytest.CaptureFixture[str]):
    missing = configs / "no_such_task.yaml"
    assert main(["run", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"agent-platform: error: file not found: {missing} (YAML file)"


def test_run_fails_closed_when_the_registry_cannot_be_reached(
    configs: Path, capsys: pytest.CaptureFixture[str]
):
    unreachable = {"registries": {"pypi_url": "http://127.0.0.1:9", "retries": 0}}
    path = configs / "unreachable.yaml"
    path.write_text(yaml.safe_dump({**unreachable, "cache": {"enabled": False}}))
    task = _task(configs, "requests")
    code, result = _cli(capsys, "run", str(task), "--json", "--supply-chain-config", str(path))
    assert code == 4
    violation = result["violations"][0]  # type: ignore[index]
    assert violation["detail"] == "requests: could not verify on python"


def test_resuming_a_finished_run_exits_2_in_one_line_and_writes_nothing(
    configs: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
):
    task = str(_task(configs, "requests"))
    flags = ["--supply-chain-config", str(configs / "supply_chain.yaml")]
    code, approved = _cli(capsys, "run", task, "--json", *flags)
    assert code == 0 and approved["status"] == "finished"
    run_id = str(approved["run_id"])
    before = _ledger_rows(pg_url, run_id)
    code = main(["run", task, "--resume", run_id, *flags])
    errors = [line for line in capsys.readouterr().err.splitlines() if "agent-platform" in line]
    assert code == 2 and len(errors) == 1, errors
    assert errors[0].startswith(f"agent-platform: error: run {run_id} already finished (approved")
    assert _ledger_rows(pg_url, run_id) == before


def _ledger_rows(pg_url: str, run_id: str) -> list[tuple[object, ...]]:
    engine = create_engine_for(pg_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT seq, event_type, payload, entry_hash FROM ledger_entries "
                    "WHERE ledger = :name ORDER BY seq"
                ),
                {"name": f"run:{run_id}"},
            ).all()
    finally:
        engine.dispose()
    return [tuple(row) for row in rows]
