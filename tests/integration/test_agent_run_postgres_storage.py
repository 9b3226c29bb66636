"""An instance written by jobs.agent_instance with --postgres keeps runs and events in
PostgreSQL (dagster-postgres): a run executed on it is read back by a second instance."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance, job, op
from dagster._core.instance.ref import InstanceRef
from sqlalchemy.engine.url import make_url

from jobs.agent_instance import PG_URL_ENV, instance_config, write_instance
from jobs.agent_runs_config import load_agent_runs_config


@op
def _answer() -> int:
    return 42


@job
def _tiny() -> None:
    _answer()


def _instance(home: Path) -> DagsterInstance:
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def test_runs_and_events_live_in_postgres(
    empty_pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = make_url(empty_pg_url).set(drivername="postgresql+psycopg2")
    monkeypatch.setenv(PG_URL_ENV, url.render_as_string(hide_password=False))
    write_instance(tmp_path, instance_config(load_agent_runs_config(), postgres=True))
    writer = _instance(tmp_path)
    try:
        assert type(writer.run_storage).__name__ == "PostgresRunStorage"
        result = _tiny.execute_in_process(instance=writer)
        assert result.success
    finally:
        writer.dispose()
    reader = _instance(tmp_path)
    try:
        run = reader.get_run_by_id(result.run_id)
        assert run is not None and run.is_success
        assert any(e.step_key == "_answer" for e in reader.all_logs(result.run_id))
    finally:
        reader.dispose()
