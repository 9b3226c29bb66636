"""The contract's cross-file checks: facts that must agree between two or more files.

- ``budget_caps``: the caps in ``policies/finops.yaml`` equal the caps every row of
  ``metrics/cost/budget_report.csv`` states;
- ``evidence_paths_exist``: every evidence path the gate JSON names exists (and the seed's
  required metrics files are among them);
- ``router_config_alignment``: the router loads the routing config and the budget, every
  routing provider has a token ceiling in the FinOps policy, every routed model is allowed
  there, no task asks for more tokens than its providers' ceilings, and every provider in the
  routing accuracy file is a configured one;
- ``integration_tests``: each core module has its integration test, and the test imports it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from agent_platform.config import load_yaml_model
from agent_platform.errors import AgentPlatformError
from agent_platform.evidence.contract_model import CrossFileCheck
from agent_platform.evidence.csvio import read_csv
from agent_platform.evidence.formats.finops import report_caps
from agent_platform.evidence.formats.router import ACCURACY_COLUMNS
from agent_platform.schemas.finops import FinOpsConfig
from agent_platform.schemas.routing import RoutingConfig

__all__ = ["CROSS_CHECKS", "run_cross_check"]

Outcome = tuple[bool, str]


def _budget_caps(root: Path, check: CrossFileCheck) -> Outcome:
    policy = load_yaml_model(root / check.files["policy"], FinOpsConfig)
    phase_no = check.phase if check.phase is not None else policy.active_phase
    phase = policy.phase(phase_no)
    expected = (phase_no, float(phase.daily_eur_cap), float(phase.monthly_eur_cap))
    stated = report_caps(root / check.files["report"])
    if stated != {expected}:
        return (
            False,
            f"policy phase {phase_no} caps {expected[1:]} but the report states {sorted(stated)}",
        )
    return (
        True,
        f"phase {phase_no}: daily {expected[1]:g} EUR, monthly {expected[2]:g} EUR in both files",
    )


def _evidence_paths(root: Path, check: CrossFileCheck) -> Outcome:
    gate_path = root / check.files["gate"]
    try:
        gate = json.loads(gate_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return False, f"{check.files['gate']}: cannot read the gate JSON: {exc}"
    named = set(gate.get("evidence_files", {}))
    for subsystem in gate.get("subsystems", {}).values():
        named.update(subsystem.get("evidence", []))
    missing = sorted(p for p in named if not (root / p).is_file())
    unnamed = sorted(set(check.required) - named)
    if missing or unnamed:
        return False, f"missing files: {missing}; required but not named by the gate: {unnamed}"
    return True, f"{len(named)} evidence paths named, all present"


def _router_alignment(root: Path, check: CrossFileCheck) -> Outcome:
    routing = load_yaml_model(root / check.files["routing_config"], RoutingConfig)
    policy = load_yaml_model(root / check.files["finops_policy"], FinOpsConfig)
    limits = policy.phase(check.phase).providers
    problems: list[str] = []
    for name, provider in routing.providers.items():
        ceiling = limits.get(name)
        if ceiling is None:
            problems.append(f"provider {name} has no token ceiling in the FinOps policy")
            continue
        allowed = ceiling.models
        problems.extend(
            f"{name} model {model} ({task}) not allowed by the FinOps policy"
            for task, model in provider.models.items()
            if allowed is not None and model not in allowed
        )
    for task, cfg in routing.task_types.items():
        for ref in (cfg.preferred_provider, cfg.fallback):
            ceiling = limits.get(ref)
            if ceiling is not None and cfg.max_tokens > ceiling.max_tokens:
                problems.append(
                    f"task {task} max_tokens {cfg.max_tokens} > {ref} ceiling {ceiling.max_tokens}"
                )
    problems.extend(_router_source(root / check.files["router"]))
    problems.extend(_accuracy_providers(root / check.files["accuracy"], set(routing.providers)))
    if problems:
        return False, "; ".join(problems)
    return True, f"providers {sorted(routing.providers)} configured, budgeted and used consistently"


def _router_source(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return [f"{path.name}: unreadable: {exc}"]
    problems = []
    if "RoutingConfig" not in text and "model_routing" not in text:
        problems.append(f"{path.name} does not load the routing config")
    if "FinOpsBudget" not in text:
        problems.append(f"{path.name} does not consult FinOpsBudget")
    return problems


def _accuracy_providers(path: Path, known: set[str]) -> list[str]:
    rows = read_csv(path, ACCURACY_COLUMNS)
    used = {r["actual_provider"] for r in rows} | {r["expected_provider"] for r in rows}
    unknown = sorted(used - known - {""})
    return [f"{path.name} names providers not in the routing config: {unknown}"] if unknown else []


def _integration_tests(root: Path, check: CrossFileCheck) -> Outcome:
    problems = []
    for pair in check.pairs:
        module, test = root / pair["module"], root / pair["test"]
        if not module.is_file():
            problems.append(f"{pair['module']} missing")
        if not test.is_file():
            problems.append(f"{pair['test']} missing")
        elif pair["import"] not in test.read_text(encoding="utf-8"):
            problems.append(f"{pair['test']} does not import {pair['import']}")
    if problems:
        return False, "; ".join(problems)
    return True, f"{len(check.pairs)} core modules each have their integration test"


CROSS_CHECKS: dict[str, Callable[[Path, CrossFileCheck], Outcome]] = {
    "budget_caps": _budget_caps,
    "evidence_paths_exist": _evidence_paths,
    "router_config_alignment": _router_alignment,
    "integration_tests": _integration_tests,
}


def run_cross_check(root: Path, check: CrossFileCheck) -> Outcome:
    """Run one cross-file check; any failure to read its files is a failed check, not a crash."""
    runner = CROSS_CHECKS.get(check.id)
    if runner is None:
        return False, f"unknown cross-file check {check.id!r}; known: {sorted(CROSS_CHECKS)}"
    try:
        return runner(root, check)
    except AgentPlatformError as exc:
        return False, str(exc)
    except KeyError as exc:
        return False, f"check {check.id} is missing its file key {exc}"
