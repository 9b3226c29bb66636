"""deploy/*.yaml and the instances jobs.agent_instance writes pass Dagster's own config validation.

Two levels, both Dagster's: the instance schema (``dagster_instance_config``, what
``DagsterInstance`` runs on start-up) and, for each configurable class named in the file (run
coordinator, run launcher, PostgreSQL storage), that class's own ``config_type`` processed with
``process_config`` with the environment variables the file names set, which is what the class
receives when the instance builds it. The queue limits in each file must equal the ones
``configs/agent_runs.yaml`` produces.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import process_config
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes.config_class import class_from_code_pointer

from agent_platform.config import project_root
from jobs.agent_instance import instance_config, write_instance
from jobs.agent_runs_config import load_agent_runs_config, tag_concurrency_limits

DEPLOY = project_root() / "deploy"
FILES = ("dagster.yaml", "dagster_docker.yaml", "dagster_k8s.yaml")
ENV = {
    "DAGSTER_PG_HOST": "db.internal",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "not-a-real-password",
    "DAGSTER_PG_URL": "postgresql+psycopg2://dagster@db.internal:5432/dagster",
    "AGENT_PLATFORM_CODE_IMAGE": "registry.example/agent-platform:1",
    "AGENT_PLATFORM_K8S_NAMESPACE": "agents",
}


def _validated(folder: Path, name: str) -> dict[str, Any]:
    config, custom = dagster_instance_config(str(folder), name)
    assert custom is None
    return dict(config)


def _class_config(section: dict[str, Any]) -> Any:
    klass = class_from_code_pointer(section["module"], section["class"])
    result = process_config(klass.config_type(), section.get("config") or {})
    assert result.success, [e.message for e in result.errors or []]
    return klass, result.value


@pytest.fixture
def deploy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("name", FILES)
def test_deploy_file_passes_dagster_validation(name: str, deploy_env: None) -> None:
    config = _validated(DEPLOY, name)
    coordinator, queue = _class_config(config["run_coordinator"])
    assert coordinator.__name__ == "QueuedRunCoordinator"
    assert queue["tag_concurrency_limits"] == tag_concurrency_limits(load_agent_runs_config())
    assert queue["dequeue_num_workers"] == load_agent_runs_config().queue.launch_workers
    _, storage = _class_config(
        {"module": "dagster_postgres", "class": "DagsterPostgresStorage",
         "config": config["storage"]["postgres"]}
    )  # fmt: skip
    assert storage["postgres_db"]["hostname"] == ENV["DAGSTER_PG_HOST"]
    assert storage["postgres_db"]["scheme"] == "postgresql+psycopg2"
    if "run_launcher" in config:
        launcher, launched = _class_config(config["run_launcher"])
        assert launcher.__module__.split(".")[0] in {"dagster_docker", "dagster_k8s"}
        image = launched.get("image") or launched.get("job_image")
        assert image == ENV["AGENT_PLATFORM_CODE_IMAGE"]


def test_launchers_are_docker_and_kubernetes(deploy_env: None) -> None:
    names = {_class_config(_validated(DEPLOY, n)["run_launcher"])[0].__name__ for n in FILES[1:]}
    assert names == {"DockerRunLauncher", "K8sRunLauncher"}


def test_a_wrong_key_is_refused(tmp_path: Path, deploy_env: None) -> None:
    """The validation can fail: a misspelled launcher key is an error, not ignored."""
    text = (DEPLOY / "dagster_docker.yaml").read_text().replace("network: ", "netwrok: ")
    (tmp_path / "dagster.yaml").write_text(text)
    config = _validated(tmp_path, "dagster.yaml")
    section = config["run_launcher"]
    klass = class_from_code_pointer(section["module"], section["class"])
    assert not process_config(klass.config_type(), section["config"]).success


def test_a_bad_instance_key_is_refused(tmp_path: Path) -> None:
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    with (tmp_path / "dagster.yaml").open("a") as handle:
        handle.write("run_cordinator_typo: {}\n")
    with pytest.raises(DagsterInvalidConfigError):
        dagster_instance_config(str(tmp_path), "dagster.yaml")


@pytest.mark.parametrize("postgres", [False, True])
def test_written_instance_validates(tmp_path: Path, postgres: bool, deploy_env: None) -> None:
    settings = instance_config(load_agent_runs_config(), postgres=postgres, max_concurrent_runs=2)
    write_instance(tmp_path, settings)
    config = _validated(tmp_path, "dagster.yaml")
    _, queue = _class_config(config["run_coordinator"])
    assert queue["max_concurrent_runs"] == 2
    assert ("storage" in config) is postgres
    written = yaml.safe_load((tmp_path / "dagster.yaml").read_text())
    assert "postgresql://" not in yaml.safe_dump(written)  # the URL stays in the environment


def test_parallel_launching_passes_the_coordinator_schema(tmp_path: Path) -> None:
    settings = instance_config(load_agent_runs_config(), dequeue_workers=4)
    write_instance(tmp_path, settings)
    _, queue = _class_config(_validated(tmp_path, "dagster.yaml")["run_coordinator"])
    assert queue["dequeue_use_threads"] is True and queue["dequeue_num_workers"] == 4
