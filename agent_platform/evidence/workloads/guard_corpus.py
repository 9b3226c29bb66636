"""Guard corpus workload: the policy guard run on a fixed corpus of violating and clean changes.

The corpus ships with the package (``guard_corpus/``): ``violations.yaml`` holds changes that
break a rule of ``policies/agent_policy.yaml`` (every rule the guard can raise under the shipped
policy, most with variants written the way generated code dodges a naive check), ``clean.yaml``
holds changes the policy allows but that sit close to a rule. Each case is handed to a fresh
:class:`PolicyGuard` at the node it belongs to (the planner's input for a task, the planner's,
coder's, critic's or approver's output otherwise); registry answers come from
``registry.yaml``, the guard's one injected seam.

A violation is *caught* when the guard reports the case's rule, *missed* otherwise; a clean
case with any violation is a *false positive*. The corpus, not the guard, decides what is
expected, so the counts measure the guard against cases written independently of its code.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, RootModel

from agent_platform.config import load_yaml_model
from agent_platform.errors import ConfigError
from agent_platform.orchestration.guard import GuardReport, PolicyGuard, RecordedRegistry
from agent_platform.orchestration.types import (
    CodeBundle,
    CriticVerdict,
    Decision,
    GraphState,
    Plan,
)
from agent_platform.schemas.policy import AgentPolicy, load_agent_policy

__all__ = [
    "CORPUS_DIR",
    "CaseResult",
    "CorpusCase",
    "GuardCorpus",
    "check_case",
    "load_corpus",
    "run_guard_corpus",
]

CORPUS_DIR = Path(__file__).with_name("guard_corpus")
CAUGHT, MISSED, CLEAN, FALSE_POSITIVE = "caught", "missed", "clean", "false_positive"


class CorpusCase(BaseModel):
    """One change of the corpus; ``rule`` is the rule it breaks (None: a clean change)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    kind: Literal["task", "plan", "bundle", "verdict", "decision"]
    rule: str | None = None
    value: dict[str, Any]
    state: dict[str, Any] = Field(default_factory=dict)


class _Cases(RootModel[list[CorpusCase]]):
    pass


class _Registry(RootModel[dict[str, dict[str, bool]]]):
    pass


@dataclass(frozen=True)
class GuardCorpus:
    """The violating and the clean cases, and the registry answers they run with."""

    violations: list[CorpusCase]
    clean: list[CorpusCase]
    registry: dict[str, bool | None]

    @property
    def cases(self) -> list[CorpusCase]:
        return [*self.violations, *self.clean]


@dataclass(frozen=True)
class CaseResult:
    """What the guard reported for one case."""

    case_id: str
    kind: str
    expected_rule: str | None
    found_rules: tuple[str, ...]

    @property
    def outcome(self) -> str:
        if self.expected_rule is None:
            return FALSE_POSITIVE if self.found_rules else CLEAN
        return CAUGHT if self.expected_rule in self.found_rules else MISSED


def load_corpus(folder: Path = CORPUS_DIR) -> GuardCorpus:
    """Read and validate the corpus files.

    Raises:
        ConfigError: a file is missing or malformed, a violation names no rule, a clean case
            names one, or an id repeats.
    """
    violations = load_yaml_model(folder / "violations.yaml", _Cases).root
    clean = load_yaml_model(folder / "clean.yaml", _Cases).root
    registry = load_yaml_model(folder / "registry.yaml", _Registry).root
    _require(folder / "violations.yaml", violations, needs_rule=True)
    _require(folder / "clean.yaml", clean, needs_rule=False)
    seen: set[str] = set()
    for case in [*violations, *clean]:
        if case.id in seen:
            raise ConfigError(str(folder), "id", case.id, "each case id once in the corpus")
        seen.add(case.id)
    answers: dict[str, bool | None] = {
        f"{eco}:{name}": found for eco, names in registry.items() for name, found in names.items()
    }
    return GuardCorpus(violations, clean, answers)


def _require(path: Path, cases: list[CorpusCase], *, needs_rule: bool) -> None:
    for case in cases:
        if (case.rule is not None) != needs_rule:
            allowed = "the rule the case breaks" if needs_rule else "no rule (a clean change)"
            raise ConfigError(str(path), f"{case.id}.rule", case.rule, allowed)


async def check_case(guard: PolicyGuard, case: CorpusCase) -> GuardReport:
    """The guard's report for ``case`` at the node it belongs to."""
    if case.kind == "task":
        return guard.check_input("planner", {"task": case.value})
    if case.kind == "plan":
        return await guard.check_output("planner", Plan.model_validate(case.value))
    if case.kind == "bundle":
        return await guard.check_output("coder", CodeBundle.model_validate(case.value))
    if case.kind == "verdict":
        return await guard.check_output("critic", CriticVerdict.model_validate(case.value))
    decision = Decision.model_validate(case.value)
    return await guard.check_output("approver", decision, cast(GraphState, dict(case.state)))


async def _run(corpus: GuardCorpus, policy: AgentPolicy) -> list[CaseResult]:
    out = []
    for case in corpus.cases:
        # A fresh guard per case: the guard caches findings per file, cases must not share it.
        guard = PolicyGuard(policy, RecordedRegistry(dict(corpus.registry)))
        report = await check_case(guard, case)
        rules = tuple(sorted({v.rule for v in report.violations}))
        out.append(CaseResult(case.id, case.kind, case.rule, rules))
    return out


def run_guard_corpus(
    policy: AgentPolicy | None = None, folder: Path = CORPUS_DIR
) -> list[CaseResult]:
    """Run the guard on every case of the corpus (synchronous callers only)."""
    return asyncio.run(_run(load_corpus(folder), policy or load_agent_policy()))
