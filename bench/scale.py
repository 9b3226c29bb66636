"""Scale benchmark: the same agent tasks through Dagster's real queue and daemon on PostgreSQL.

Run as::

    uv run python -m bench.scale [--tasks 40] [--levels 1,2,4,8]
        [--server-url postgresql://postgres@127.0.0.1:5432/postgres]

Set-up (all created here, dropped at the end): a scratch agent_platform database (migrated;
ledgers, checkpoints, budget, outbox) and, per concurrency level, a fresh Dagster storage
database and DAGSTER_HOME whose dagster.yaml (written by ``jobs.agent_instance``) puts run,
event-log and schedule storage on PostgreSQL and sets the QueuedRunCoordinator's
``max_concurrent_runs`` and the per-phase and per-provider tag limits to the level. ``dagster-daemon run`` runs as a subprocess on the
agent-runs code location; the runs it launches are processes of their own. The tasks are the
five scenarios of ``configs/scenarios`` (approve, refine, violate policy, QA fail then fix,
refinement bound), each repeated with a numbered title so every task is distinct, answered by
the provider simulator with ``configs/simulation/scale_bench.yaml`` (the routing config's base
latencies compressed 10x, lognormal tail). Run-end notifications go through the durable outbox
to a Slack-style destination on a loopback receiver, delivered by a dispatcher thread here.

Per level, from Dagster's own run records: ``runs_per_min`` (tasks / (last end - first
submission)), ``p95_queue_wait_s`` (start - creation), ``p95_run_time_s`` (end - start),
``cpu_busy_percent`` (the whole machine's, from /proc/stat over the level: other processes on
a shared machine count too, so the load average is printed beside it) and
``run_cpu_s_median`` (CPU of one run's process, measured by the run itself),
``peak_concurrent_runs`` (the most runs in progress at once, from their start and end times),
``agent_db_commits_per_run`` and ``dagster_db_commits_per_run`` (committed transactions of the
agent_platform database and of the Dagster storage database over the level, from
``pg_stat_database``, per task; the dispatcher's and the bench's own reads included).

Across levels: ``ledger_forks`` (run ledgers that fail verification or hold other than exactly
one ``run_started`` and one ``run_finished`` entry), ``budget_breaches`` (day, month and token
windows whose committed + reserved spend exceeds the cap after the last level),
``lost_notifications`` (finished agent runs whose run-end notice never reached the receiver),
``failed_runs``, ``replay_failures`` (runs whose metadata says the ledger did not replay),
``throughput_ratio_8_vs_1``, and the median LLM calls and tokens per run (from the ledgers: the
scripted scenarios' simulated usage, for the provider rate-limit arithmetic). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agent_platform.config import project_root
from bench._harness import emit, p95, ratio
from bench._scale_checks import (
    budget_breaches,
    ledger_forks,
    llm_usage_per_run,
    lost_notifications,
)
from bench._scale_setup import (
    Receiver,
    cpu_sample,
    dagster_database,
    scenario_tasks,
    write_notifications_config,
)

ROOT = project_root()
WORKSPACE = ROOT / "deploy" / "workspace_agent_runs.yaml"
PROFILE = "configs/simulation/scale_bench.yaml"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def _start_daemon(home: Path, log: Path) -> subprocess.Popen[bytes]:
    daemon = str(Path(sys.executable).parent / "dagster-daemon")
    return subprocess.Popen(
        [daemon, "run", "-w", str(WORKSPACE)],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    import signal

    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _records(instance: Any, run_ids: list[str]) -> list[Any]:
    return [instance.get_run_record_by_id(run_id) for run_id in run_ids]


def _metadata(instance: Any, run_id: str) -> dict[str, Any]:
    from dagster import DagsterEventType

    for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_OUTPUT):
        return {k: v.value for k, v in entry.dagster_event.event_specific_data.metadata.items()}
    return {}


def level_limits(level: int) -> Any:
    """configs/agent_runs.yaml with every queue limit at ``level``: the shipped per-phase and
    per-provider limits (4) would otherwise cap a level of 8 at 4 runs at once."""
    from jobs.agent_runs_config import QueueLimits, load_agent_runs_config

    config = load_agent_runs_config()
    providers = dict.fromkeys(config.queue.per_provider, level)
    queue = QueueLimits(max_concurrent_runs=level, per_phase=level, per_provider=providers)
    return config.model_copy(update={"queue": queue})


def _commits(url: str) -> int:
    """Committed transactions of ``url``'s database so far (pg_stat_database; the statistics
    of a finished backend are flushed when it exits, so this is read after the daemon stops)."""
    import sqlalchemy as sa

    from agent_platform.db import create_engine_for

    engine = create_engine_for(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            query = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            return int(conn.execute(sa.text(query)).scalar_one())
    finally:
        engine.dispose()


def run_level(
    level: int,
    tasks: list[Any],
    work: Path,
    server: str,
    options: dict[str, str],
    dequeue_workers: int | None = None,
) -> dict[str, Any]:
    """Submit every task at once to an instance limited to ``level`` runs; figures of the level."""
    from jobs.agent_instance import instance_config, write_instance
    from jobs.agent_submit import open_instance, open_workspace, submit_tasks, wait_for_runs

    home = work / f"home_{level}"
    settings = instance_config(
        level_limits(level),
        postgres=True,
        dequeue_interval_s=1,
        dequeue_workers=dequeue_workers,
    )
    write_instance(home, settings)
    with dagster_database(server, f"bench_scale_dagster_{level}_") as dagster_url:
        os.environ["DAGSTER_PG_URL"] = dagster_url
        agent_url = os.environ["AGENT_PLATFORM_DATABASE_URL"]
        commits_before = (_commits(agent_url), _commits(dagster_url))
        daemon = _start_daemon(home, work / f"daemon_{level}.log")
        try:
            with open_instance(home) as instance, open_workspace(instance, WORKSPACE) as workspace:
                cpu_before, started = cpu_sample(), time.time()
                runs = submit_tasks(instance, workspace, tasks, options)
                run_ids = [r.run_id for r in runs]
                statuses = wait_for_runs(instance, run_ids, timeout_s=3600, poll_s=1.0)
                cpu_busy = cpu_sample().busy_percent_since(cpu_before)
                records = _records(instance, run_ids)
                metadata = {run_id: _metadata(instance, run_id) for run_id in run_ids}
        finally:
            _stop(daemon)
        time.sleep(1.0)  # let the exited backends' statistics reach pg_stat_database
        commits = (
            _commits(agent_url) - commits_before[0],
            _commits(dagster_url) - commits_before[1],
        )
    figures = _level_figures(level, records, statuses, metadata, started, cpu_busy)
    figures["agent_db_commits_per_run"] = round(commits[0] / len(tasks), 1)
    figures["dagster_db_commits_per_run"] = round(commits[1] / len(tasks), 1)
    return figures


def peak_concurrency(records: list[Any]) -> int:
    """The most runs in progress at once (from their start and end times): what the queue
    actually allowed, whatever the configured level."""
    edges = [(r.start_time, 1) for r in records if r.start_time and r.end_time]
    edges += [(r.end_time, -1) for r in records if r.start_time and r.end_time]
    peak = current = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        current += step
        peak = max(peak, current)
    return peak


def _level_figures(
    level: int,
    records: list[Any],
    statuses: dict[str, str],
    metadata: dict[str, dict[str, Any]],
    started: float,
    cpu_busy: float,
) -> dict[str, Any]:
    waits = [r.start_time - r.create_timestamp.timestamp() for r in records if r.start_time]
    times = [r.end_time - r.start_time for r in records if r.start_time and r.end_time]
    last_end = max((r.end_time for r in records if r.end_time), default=started)
    cpu = [m["process_cpu_s"] for m in metadata.values() if "process_cpu_s" in m]
    return {
        "level": level,
        "runs": len(records),
        "succeeded": sum(1 for s in statuses.values() if s == "SUCCESS"),
        "runs_per_min": round(len(records) / (last_end - started) * 60.0, 3),
        "p95_queue_wait_s": round(p95(waits), 3),
        "p95_run_time_s": round(p95(times), 3),
        "cpu_busy_percent": round(cpu_busy, 1),
        "run_cpu_s_median": round(statistics.median(cpu), 3) if cpu else float("nan"),
        "run_cpu_s_n": len(cpu),
        "peak_concurrent_runs": peak_concurrency(records),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "replay_failures": sum(1 for m in metadata.values() if m.get("replay_ok") is not True),
        "agent_run_ids": [m.get("agent_run_id", "") for m in metadata.values()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--levels", default="1,2,4,8")
    parser.add_argument(
        "--dequeue-workers",
        type=int,
        default=None,
        help="runs launched at once (0: serially; default: launch_workers of the config)",
    )
    parser.add_argument(
        "--server-url",
        default=os.environ.get("AGENT_PLATFORM_BENCH_PG_ADMIN_URL") or DEFAULT_SERVER,
    )
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]
    print(f"load average at start: {os.getloadavg()} on {os.cpu_count()} cores", flush=True)
    result = run_bench(args.server_url, levels, scenario_tasks(args.tasks), args.dequeue_workers)
    emit(result)
    ok = all(result[k] == 0 for k in ("ledger_forks", "budget_breaches", "lost_notifications"))
    return 0 if ok and result["failed_runs"] == 0 else 1


def run_bench(
    server: str, levels: list[int], tasks: list[Any], dequeue_workers: int | None = None
) -> dict[str, Any]:
    import tempfile

    from bench._harness import scratch_postgres_database

    with (
        tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp,
        scratch_postgres_database(server, "bench_scale_agent_") as agent_url,
        Receiver() as receiver,
    ):
        work = Path(tmp)
        os.environ["AGENT_PLATFORM_DATABASE_URL"] = agent_url
        options = {
            "simulation_profile": PROFILE,
            "notifications_config": str(write_notifications_config(work, receiver.url)),
        }
        per_level = []
        with receiver.dispatching(agent_url, work):
            for level in levels:
                figures = run_level(level, tasks, work, server, options, dequeue_workers)
                print(_line(figures), flush=True)
                per_level.append(figures)
            receiver.drain(agent_url, work)
        run_ids = [rid for f in per_level for rid in f.pop("agent_run_ids")]
        return _summary(per_level, run_ids, agent_url, receiver, len(tasks), dequeue_workers)


def _line(f: dict[str, Any]) -> str:
    return (
        f"max_concurrent_runs={f['level']} (peak {f['peak_concurrent_runs']}): "
        f"{f['succeeded']}/{f['runs']} succeeded, "
        f"{f['runs_per_min']} runs/min, p95 queue wait {f['p95_queue_wait_s']} s, p95 run "
        f"{f['p95_run_time_s']} s, machine CPU {f['cpu_busy_percent']} %, run CPU median "
        f"{f['run_cpu_s_median']} s (n={f['run_cpu_s_n']}), load {f['load_average_1m_after']}, "
        f"commits per run: agent db {f['agent_db_commits_per_run']}, "
        f"Dagster db {f['dagster_db_commits_per_run']}"
    )


def _summary(
    per_level: list[dict[str, Any]],
    run_ids: list[str],
    agent_url: str,
    receiver: Any,
    n: int,
    dequeue_workers: int | None = None,
) -> dict[str, Any]:
    by_level = {f["level"]: f for f in per_level}
    throughput = ratio(
        by_level.get(8, {}).get("runs_per_min", float("nan")),
        by_level.get(1, {}).get("runs_per_min", float("nan")),
    )
    return {
        "bench": "scale",
        "tasks_per_level": n,
        "dequeue_workers": dequeue_workers,
        "levels": per_level,
        "runs_total": len(run_ids),
        "failed_runs": sum(f["runs"] - f["succeeded"] for f in per_level),
        "replay_failures": sum(f["replay_failures"] for f in per_level),
        "ledger_forks": ledger_forks(agent_url, run_ids),
        "budget_breaches": budget_breaches(agent_url),
        "lost_notifications": lost_notifications(run_ids, receiver.bodies()),
        "throughput_ratio_8_vs_1": throughput,
        **llm_usage_per_run(agent_url, run_ids),
        "simulated_providers": True,
        "load_average_end": list(os.getloadavg()),
    }


if __name__ == "__main__":
    sys.exit(main())
