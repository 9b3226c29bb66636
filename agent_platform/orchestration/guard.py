"""The policy guard: every node's input and output is checked before the run may go on.

The guard is pure apart from one seam, the registry check of proposed dependencies, which is
injected behind :class:`RegistryChecker` (the supply-chain client in production, a loopback
registry in tests). A lookup that cannot be made (``None``) fails closed. Every registry answer
the guard used is returned with its findings so a replay can reuse it instead of asking again.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from packaging.requirements import InvalidRequirement, Requirement
from pydantic import BaseModel

from agent_platform.errors import AgentPlatformError
from agent_platform.orchestration.code_checks import (
    Finding,
    check_file_path,
    check_python_source,
    check_text_placeholders,
    check_text_secrets,
)
from agent_platform.orchestration.types import (
    CodeBundle,
    Decision,
    GraphState,
    Plan,
    QAResult,
    TaskSpec,
    Violation,
)
from agent_platform.schemas.policy import AgentPolicy

__all__ = ["GuardReport", "PolicyGuard", "RecordedRegistry", "RegistryChecker"]


class RegistryChecker(Protocol):
    """Says whether a package exists on its registry; ``None`` means it could not check."""

    def exists(self, ecosystem: str, name: str) -> bool | None:
        """True/False when the registry answered, None when it could not be asked."""
        ...


@dataclass(frozen=True)
class RecordedRegistry:
    """Registry answers taken from a ledger, for replay: nothing is looked up again."""

    answers: dict[str, bool | None]

    def exists(self, ecosystem: str, name: str) -> bool | None:
        return self.answers.get(f"{ecosystem}:{name}")


@dataclass
class GuardReport:
    """The guard's findings for one check, and the registry answers it used."""

    violations: list[Violation] = field(default_factory=list)
    flags: list[Violation] = field(default_factory=list)
    registry_lookups: dict[str, bool | None] = field(default_factory=dict)

    def extend(self, other: GuardReport) -> None:
        self.violations.extend(other.violations)
        self.flags.extend(other.flags)
        self.registry_lookups.update(other.registry_lookups)


class PolicyGuard:
    """Applies :class:`AgentPolicy` to node inputs and outputs."""

    def __init__(self, policy: AgentPolicy, registry: RegistryChecker | None = None) -> None:
        self.policy = policy
        self.registry = registry
        # Findings per (path, content): a bundle is checked when the coder writes it and again
        # on every later node's input; the same bytes give the same findings, so each file is
        # parsed once per guard (one guard per run). Changed content is a new key: tampering
        # between nodes is still caught.
        self._checked: dict[tuple[str, str], tuple[Finding, ...]] = {}
        phrases = [r"\s+".join(map(re.escape, m.split())) for m in policy.injection_markers]
        self._injection = re.compile("|".join(phrases), re.IGNORECASE)

    # inputs ------------------------------------------------------------------------------
    def check_input(self, node: str, state: GraphState) -> GuardReport:
        """Check what ``node`` is about to read from the state."""
        report = GuardReport()
        if node == "planner":
            task = TaskSpec.model_validate(state.get("task") or {})
            report.violations.extend(self._scan_text(node, "input", task.model_dump()))
            for path, source in task.acceptance_tests.items():
                report.violations.extend(self._file_findings(node, "input", path, source))
            return report
        readable: dict[str, Any] = {"feedback": state.get("feedback") or []}
        if node in ("coder", "approver") and state.get("plan"):
            plan = Plan.model_validate(state["plan"])
            readable["plan"] = plan.model_dump()
            report.violations.extend(self._plan_paths(node, "input", plan))
        if node in ("critic", "qa", "approver") and state.get("code"):
            bundle = CodeBundle.model_validate(state["code"])
            report.violations.extend(self._bundle_findings(node, "input", bundle))
        for key in ("verdict", "qa"):
            if node == "approver" and state.get(key):
                readable[key] = state[key]
        report.violations.extend(self._scan_text(node, "input", readable))
        return report

    # outputs -----------------------------------------------------------------------------
    async def check_output(
        self, node: str, output: BaseModel, state: GraphState | None = None
    ) -> GuardReport:
        """Check a node's typed output (code, dependencies, text, decision invariants)."""
        report = GuardReport()
        if isinstance(output, Plan):
            report.violations.extend(self._plan_paths(node, "output", output))
        if isinstance(output, CodeBundle):
            report.violations.extend(self._bundle_findings(node, "output", output))
            report.extend(await self.check_dependencies(node, output.dependencies))
            text = output.model_dump(exclude={"files"})
        else:
            text = output.model_dump()
        if isinstance(output, QAResult):
            text = {"output": output.output, "failures": output.failures}
            report.violations.extend(self._sandbox_findings(node, output))
        if isinstance(output, Decision):
            report.violations.extend(self._decision_findings(node, output, state or {}))
        report.violations.extend(self._scan_text(node, "output", text))
        return report

    async def check_dependencies(self, node: str, dependencies: list[str]) -> GuardReport:
        """Every proposed dependency must exist on its registry (unverifiable: violation)."""
        report = GuardReport()
        ecosystem = self.policy.dependencies.ecosystem
        if len(dependencies) > self.policy.dependencies.max_dependencies:
            report.violations.append(
                Violation(
                    node=node,
                    stage="output",
                    rule="too_many_dependencies",
                    detail=f"{len(dependencies)} > {self.policy.dependencies.max_dependencies}",
                )
            )
        for spec in dependencies:
            name = _requirement_name(spec)
            if name is None:
                report.violations.append(
                    Violation(node=node, stage="output", rule="invalid_dependency", detail=spec)
                )
                continue
            found = await self._lookup(ecosystem, name)
            report.registry_lookups[f"{ecosystem}:{name}"] = found
            if found is not True:
                detail = (
                    f"{name} does not exist on {ecosystem}"
                    if found is False
                    else f"{name}: could not verify on {ecosystem}"
                )
                report.violations.append(
                    Violation(node=node, stage="output", rule="unknown_dependency", detail=detail)
                )
        return report

    async def _lookup(self, ecosystem: str, name: str) -> bool | None:
        if self.registry is None:
            return None
        try:
            answer = await asyncio.to_thread(self.registry.exists, ecosystem, name)
        except AgentPlatformError:
            return None
        return answer if isinstance(answer, bool) else None

    # helpers -----------------------------------------------------------------------------
    def _plan_paths(self, node: str, stage: Any, plan: Plan) -> list[Violation]:
        found = []
        for path in plan.files_to_write:
            finding = check_file_path(path)
            if finding is not None:
                found.append(_violation(node, stage, finding, path))
        return found

    def _bundle_findings(self, node: str, stage: Any, bundle: CodeBundle) -> list[Violation]:
        found = []
        for path, source in sorted(bundle.files.items()):
            found.extend(self._file_findings(node, stage, path, source))
        return found

    def _file_findings(self, node: str, stage: Any, path: str, source: str) -> list[Violation]:
        key = (path, source)
        if key not in self._checked:
            self._checked[key] = self._check_file(path, source)
        return [_violation(node, stage, f, path) for f in self._checked[key]]

    def _check_file(self, path: str, source: str) -> tuple[Finding, ...]:
        finding = check_file_path(path)
        if finding is not None:
            return (finding,)
        findings: list[Finding] = check_text_secrets(source, self.policy)
        if path.endswith(".py"):
            findings.extend(check_python_source(source, self.policy))
        else:
            findings.extend(check_text_placeholders(source, self.policy))
        findings.extend(self._injection_findings(source))
        return tuple(_dedupe(findings))

    def _injection_findings(self, text: str) -> list[Finding]:
        match = self._injection.search(text)
        if match is None:
            return []
        line = text.count("\n", 0, match.start()) + 1
        return [Finding("prompt_injection", f"marker {match.group(0)!r}", line)]

    def _scan_text(self, node: str, stage: Any, value: Any) -> list[Violation]:
        found: list[Violation] = []
        for where, text in _strings(value, ""):
            findings = check_text_secrets(text, self.policy) + self._injection_findings(text)
            found.extend(_violation(node, stage, f, where or None) for f in findings)
        return found

    def _sandbox_findings(self, node: str, result: QAResult) -> list[Violation]:
        if self.policy.sandbox.require_network_isolation and not result.network_isolated:
            reason = result.isolation.get("network", "unknown")
            return [
                Violation(
                    node=node,
                    stage="output",
                    rule="sandbox_network_not_isolated",
                    detail=f"policy requires network isolation: {reason}",
                )
            ]
        return []

    def _decision_findings(self, node: str, decision: Decision, state: Any) -> list[Violation]:
        qa = state.get("qa") if isinstance(state, dict) else None
        if decision.approved and not (qa and qa.get("ok")):
            return [
                Violation(
                    node=node,
                    stage="output",
                    rule="approval_without_passing_qa",
                    detail="the approver approved code whose tests did not pass",
                )
            ]
        return []


def _violation(node: str, stage: Any, finding: Finding, path: str | None) -> Violation:
    return Violation(
        node=node,
        stage=stage,
        rule=finding.rule,
        detail=finding.detail,
        path=path,
        line=finding.line,
    )


def _dedupe(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")


def _requirement_name(spec: str) -> str | None:
    try:
        return Requirement(spec).name
    except InvalidRequirement:
        return None
