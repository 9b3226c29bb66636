"""`make ui` opens the Dagster instance the gate writes, with the daemon, on the project's
workspace: its schedule and budget sensor are listed and can be switched on from the UI."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_platform.config import project_root

READY_WITHIN_S = 60
LOCATION = "jobs.definitions:defs"


def _make_n(target: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    done = subprocess.run(
        ["make", "-n", target],
        cwd=project_root(),
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_make_ui_names_the_gate_instance_folder_by_default_and_dagster_home_when_set(
    tmp_path: Path,
) -> None:
    default = project_root() / ".data" / "dagster_home"
    for target in ("ui", "ui-services"):
        plan = _make_n(target)
        assert f'DAGSTER_HOME="{default}"' in plan
        assert "dagster dev -w workspace.yaml" in plan
        assert f'DAGSTER_HOME="{tmp_path}"' in _make_n(target, DAGSTER_HOME=str(tmp_path))
    services = _make_n("ui-services")
    assert "AGENT_PLATFORM_DATABASE_URL=" in services and "AGENT_PLATFORM_REDIS_URL=" in services


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["data"]


def _status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return int(answer.status)
    except OSError:
        return 0


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """`make ui` on a free port and a fresh instance folder; the whole group stopped after."""
    port, home = _free_port(), tmp_path / "dagster_home"
    log = (tmp_path / "ui.log").open("w")
    process = subprocess.Popen(
        ["make", "ui", f"UI_PORT={port}"],
        cwd=project_root(),
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield port, home
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def _repository(port: int, deadline: float, log: Path) -> dict:
    query = (
        "{ repositoriesOrError { ... on RepositoryConnection { nodes { name "
        "schedules { name } sensors { name } } } } }"
    )
    while time.monotonic() < deadline:
        if _status(port, "/server_info") == 200:
            nodes = _graphql(port, query)["repositoriesOrError"].get("nodes") or []
            if nodes:
                return nodes[0]
        time.sleep(1)
    pytest.fail(
        f"the UI did not serve the code location within {READY_WITHIN_S} s: "
        f"{log.read_text()[-2000:]}"
    )


def test_make_ui_serves_the_instance_and_the_budget_sensor_can_be_switched_on(
    ui: tuple[int, Path], tmp_path: Path
) -> None:
    port, home = ui
    repository = _repository(port, time.monotonic() + READY_WITHIN_S, tmp_path / "ui.log")
    assert _status(port, "/") == 200
    assert {s["name"] for s in repository["schedules"]} == {"g1_gate_evidence_daily"}
    assert "budget_threshold_sensor" in {s["name"] for s in repository["sensors"]}
    info = _graphql(port, "{ instance { info } }")["instance"]["info"]
    assert f"base_dir: {home}" in info
    started = _graphql(
        port,
        "mutation { startSensor(sensorSelector: {repositoryLocationName: "
        f'"{LOCATION}", repositoryName: "{repository["name"]}", '
        'sensorName: "budget_threshold_sensor"}) '
        "{ __typename ... on Sensor { sensorState { status } } } }",
    )["startSensor"]
    assert started == {"__typename": "Sensor", "sensorState": {"status": "RUNNING"}}
