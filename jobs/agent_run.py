"""The ``agent_run`` job: one Dagster run is one agent task.

The task comes inline (``task_yaml``) or as a file (``task_path``) in the run config of the
``agent_task`` op, which runs it through :func:`jobs.agent_task.execute_task`, the same graph,
router, budgets, ledger and notifications as ``agent-platform run``. Dagster supplies what a
team running many tasks needs around that: the queue and its limits, run isolation (each run in
its own process, launched by the instance's run launcher), run history and the UI.

What the run records: the outcome, cost, refinements, ledger head, replay check and the CPU
of its process as typed output metadata of the op; tags with the FinOps phase and the
providers the phase allows (job tags, so every run carries them from the moment it is queued
and the queue's tag limits match them, a launchpad run included), the task id (set by submit
and the sensor; by the op for a launchpad run), and the providers the run actually called and
its outcome (added when it ends). A run whose day or month budget is spent
fails before any provider call with the reason; a finished run whose ledger does not replay
fails too: its record cannot be trusted. A *rejected* task is a successful Dagster run with
outcome ``rejected``: the agent did its job and said no.

The executor is in-process: the run already has a process of its own, and one step needs no
second one.
"""

import resource
from typing import Any

from dagster import (
    Config,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
    in_process_executor,
    job,
    op,
)

from jobs.agent_runs_config import TASK_TAG, run_tags
from jobs.agent_task import (
    BudgetCapReachedError,
    TaskOptions,
    TaskOutcome,
    execute_task,
    load_task,
    phase_providers,
)

__all__ = ["AGENT_JOB_NAME", "KIND_TAG", "OUTCOME_TAG", "AgentTaskConfig", "agent_run"]

AGENT_JOB_NAME = "agent_run"
KIND_TAG = "agent_platform/kind"
OUTCOME_TAG = "agent_platform/outcome"
PROVIDERS_USED_TAG = "agent_platform/providers_used"


class AgentTaskConfig(Config):
    """One task: ``task_yaml`` (the YAML itself) or ``task_path`` (a file), exactly one."""

    task_yaml: str = ""
    task_path: str = ""
    notifications_config: str = ""
    supply_chain_config: str = ""
    simulation_profile: str = ""


def outcome_metadata(task_id: str, outcome: TaskOutcome) -> dict[str, Any]:
    """The typed metadata of a finished agent run."""
    result = outcome.result
    verdict = result.status if result.status != "finished" else _verdict(result.approved)
    return {
        "task_id": task_id,
        "agent_run_id": result.run_id,
        "outcome": verdict,
        "cost_eur": MetadataValue.float(float(result.cost_eur)),
        "refinements": MetadataValue.int(int(result.refinements)),
        "steps": MetadataValue.int(len(result.history)),
        "violations": MetadataValue.int(len(result.violations)),
        "latency_ms": MetadataValue.float(float(result.latency_ms)),
        "ledger_seq": MetadataValue.int(outcome.ledger_seq),
        "ledger_head": outcome.ledger_head,
        "replay_ok": MetadataValue.bool(outcome.replay_ok),
        "final_state_hash": result.final_state_hash,
        "providers_used": ",".join(outcome.providers_used),
        "simulated": MetadataValue.bool(outcome.simulated),
        "process_cpu_s": MetadataValue.float(round(process_cpu_s(), 3)),
    }


def process_cpu_s() -> float:
    """CPU seconds of this run's process so far (imports included) and its finished children
    (the QA sandbox): what one agent run costs a worker."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _verdict(approved: bool) -> str:
    return "approved" if approved else "rejected"


@op(description="Run one agent task through the graph, router, budgets, ledger and outbox.")
def agent_task(context: OpExecutionContext, config: AgentTaskConfig) -> Output[dict[str, Any]]:
    loaded = load_task(text=config.task_yaml, path=config.task_path)
    run = context.run
    if TASK_TAG not in run.tags:  # launched from the UI: the job's tags carry phase/providers
        phase, providers = phase_providers()
        context.instance.add_run_tags(run.run_id, run_tags(loaded.task_id, phase, providers))
    options = TaskOptions(
        config.notifications_config, config.supply_chain_config, config.simulation_profile
    )
    context.log.info(f"task {loaded.task_id[:12]} ({loaded.source}): {loaded.task.title}")
    try:
        outcome = execute_task(loaded, run.run_id.replace("-", ""), options)
    except BudgetCapReachedError as exc:
        raise Failure(str(exc), metadata={"refused": "budget cap reached"}) from exc
    metadata = outcome_metadata(loaded.task_id, outcome)
    context.instance.add_run_tags(
        run.run_id,
        {OUTCOME_TAG: metadata["outcome"], PROVIDERS_USED_TAG: metadata["providers_used"]},
    )
    if not outcome.replay_ok:
        raise Failure(
            f"agent run {outcome.result.run_id} finished but its ledger does not replay: "
            + "; ".join(outcome.replay_detail)[:300],
            metadata=metadata,
        )
    return Output({"run_id": outcome.result.run_id, **_plain(metadata)}, metadata=metadata)


def _plain(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v.value if isinstance(v, MetadataValue) else v for k, v in metadata.items()}


def _job_tags() -> dict[str, str]:
    """The tags every agent run carries, a launchpad run too: the queue's phase and provider
    limits match them before the run starts (submit and the sensor add the task id)."""
    phase, providers = phase_providers()
    tags = run_tags("", phase, providers)
    del tags[TASK_TAG]
    return {KIND_TAG: "agent_run", **tags}


@job(
    name=AGENT_JOB_NAME,
    executor_def=in_process_executor,
    tags=_job_tags(),
    description="One agent task per run (task YAML inline or a path in the run config).",
)
def agent_run() -> None:
    agent_task()
