"""``agent-platform gate`` as a user runs it, in a real process: Ctrl-C is a normal ending, and
a run that does not complete never touches the last good evidence.

Both runs use ``--scale reduced``, a private Dagster home and a private evidence root
(``AGENT_PLATFORM_EVIDENCE_ROOT``) seeded with "previous evidence" whose bytes are compared
afterwards. The failing run fails past the backend preflight: the SQLite folder is fine, but
its ``scratch`` sub-folder (where every workload creates its scratch database) is a file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from agent_platform.config import checkout_root

PREVIOUS = {
    "evidence/gates/g1_architecture.json": b'{"status": "PASS", "run": {"run_id": "previous"}}\n',
    "evidence/performance_table.md": b"| figure | value |\n",
    "metrics/cost/budget_report.csv": b"day,spend_eur\n1,2.50\n",
    "metrics/performance/state_cache_latency.csv": b"op,ms\nget,0.4\n",
    "notifications/delivery_log.csv": b"id,status\n1,delivered\n",
}
START_TIMEOUT_S = 600
CANCEL_TIMEOUT_S = 120


def _seed(root: Path) -> None:
    for rel, data in PREVIOUS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def _unchanged(root: Path) -> None:
    for rel, data in PREVIOUS.items():
        assert (root / rel).read_bytes() == data, rel
    trees = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert {t for t in trees if not t.startswith(".data/")} == set(PREVIOUS)


def _env(tmp_path: Path, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_PLATFORM_")}
    env |= {
        "AGENT_PLATFORM_EVIDENCE_ROOT": str(tmp_path / "evidence_root"),
        "AGENT_PLATFORM_DATA_DIR": str(data_dir),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    return env


def _gate(tmp_path: Path, *extra: str) -> list[str]:
    home = tmp_path / "dagster_home"
    return [sys.executable, "-m", "agent_platform.cli", "gate", "--scale", "reduced",
            "--dagster-home", str(home), *extra]  # fmt: skip


def _statuses(home: Path) -> list[DagsterRunStatus]:
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        instance = DagsterInstance.get()
        return [record.dagster_run.status for record in instance.get_run_records()]
    finally:
        del os.environ["DAGSTER_HOME"]


def _read_lines(stream: object, lines: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.append(line)


def _interrupt_once_progress_shows(proc: subprocess.Popen[str], lines: list[str]) -> float:
    """Send SIGINT once the first step finished and a plain progress line came for the next
    one (proof that the piped form reports a step still running); returns when it was sent."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        text = "".join(lines)
        if "✓ budget_concurrency" in text and "steps done, current step running" in text:
            proc.send_signal(signal.SIGINT)
            return time.monotonic()
        time.sleep(0.2)
    raise AssertionError("the gate showed no progress:\n" + "".join(lines))


def test_ctrl_c_cancels_the_run_and_keeps_the_evidence_then_a_failed_run_keeps_it_too(
    tmp_path: Path,
) -> None:
    root = tmp_path / "evidence_root"
    _seed(root)
    (tmp_path / "data").mkdir()
    proc = subprocess.Popen(
        _gate(tmp_path),
        env=_env(tmp_path, tmp_path / "data"),
        cwd=checkout_root(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    sent = _interrupt_once_progress_shows(proc, lines)
    assert proc.wait(timeout=CANCEL_TIMEOUT_S) == 130
    reader.join(timeout=10)
    assert proc.stderr is not None
    err = proc.stderr.read()
    print(f"canceled {time.monotonic() - sent:.1f} s after SIGINT")
    assert "Traceback" not in err + "".join(lines)
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err
    assert "previous evidence" in err and ".data/staging/" in err
    assert _statuses(tmp_path / "dagster_home") == [DagsterRunStatus.CANCELED]
    _unchanged(root)

    # The next run starts cleanly on the same instance; this one fails past the preflight.
    broken = tmp_path / "broken_data"
    broken.mkdir()
    (broken / "scratch").write_text("a file where the scratch folder should be")
    done = subprocess.run(
        [*_gate(tmp_path), "--json"],
        env=_env(tmp_path, broken),
        cwd=checkout_root(),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["promoted"] is False and result["status"] == "FAIL"
    assert "scratch" in " ".join(result["failed_steps"].values())
    partial = Path(result["partial_files"])
    assert (partial / "evidence/gates/g1_architecture.json").is_file()
    assert (partial / "launcher.log").is_file()
    assert "the previous evidence in" in done.stderr and "untouched" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(_statuses(tmp_path / "dagster_home"), key=str) == sorted(
        [DagsterRunStatus.CANCELED, DagsterRunStatus.FAILURE], key=str
    )
    _unchanged(root)


@pytest.mark.parametrize("command", ["run", "cancel"])
def test_the_launcher_refuses_missing_arguments(command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jobs.launch", command],
        cwd=checkout_root(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "--run-id" in done.stderr


def test_a_dagster_home_that_is_a_file_is_exit_2_before_anything_runs(tmp_path: Path) -> None:
    home = tmp_path / "not_a_folder"
    home.write_text("x")
    (tmp_path / "data").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "agent_platform.cli", "gate", "--dagster-home", str(home)],
        env=_env(tmp_path, tmp_path / "data"),
        cwd=checkout_root(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"agent-platform: error: --dagster-home: {home} is not a folder"
    assert not (tmp_path / "evidence_root").exists()
