"""Re-measure on demand: re-run the evidence workloads of a gate's commit and compare figures.

Hashes, manifests and recomputation catch an edited file, but not a consistent rewrite (files,
manifests and gate regenerated together with invented samples). Only measuring again catches
that. :func:`reproduce` checks the gate's commit out into a scratch git worktree (``git worktree
add --detach`` in a temporary folder), runs the evidence job there with the recorded scale and
the same backend environment (``uv run --frozen agent-platform gate --no-validate``, or, for one
subsystem, ``dagster asset materialize`` of that subsystem's assets), recomputes the figures
from the files it wrote with the same readers the gate uses, and compares them figure by
figure with the gate (:func:`compare`):

- a ``deterministic`` figure (it follows from the recorded seeds and config) must be equal,
  and so must its ``n``;
- a ``timed`` figure must pass its threshold again and lie within the contract's
  ``reproduction.timed_tolerance`` for its unit (its ``n`` may move when timing decides which
  trials count, e.g. requests whose first attempt timed out);
- every figure must have been measured on the same backends.

The worktree is removed afterwards, whatever happened.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_platform.config import DATA_DIR_ENV, HOME_ENV
from agent_platform.errors import ConfigError, EvidenceError
from agent_platform.evidence.contract import ValidationReport
from agent_platform.evidence.contract_model import Contract, Threshold
from agent_platform.evidence.gate import subsystem_verdict
from agent_platform.evidence.layout import SUBSYSTEMS, WORKLOADS, EvidenceLayout
from agent_platform.evidence.manifest import WorkloadManifest, read_manifest

__all__ = [
    "Comparison",
    "Reproduction",
    "add_to_report",
    "compare",
    "evidence_command",
    "recorded_scale",
    "reproduce",
    "run_evidence",
    "scratch_checkout",
]

_SELECTION: dict[str, str] = {
    "packages": "key:pkg_reality_report",
    "residency": "key:vendor_region_distribution",
}
"""Dagster selections of subsystems whose assets share a group; others select ``group:<name>``."""

_ISOLATED_ENV = (
    HOME_ENV,
    DATA_DIR_ENV,
    "AGENT_PLATFORM_EVIDENCE_ROOT",
    "VIRTUAL_ENV",
    "DAGSTER_HOME",
)
"""Variables that would point the scratch run at another tree or data folder (the embedded
SQLite file then lives in the scratch checkout); backend URLs are kept, so the re-run uses the
same PostgreSQL and Redis as the recorded one."""


@dataclass(frozen=True)
class Comparison:
    """One figure compared: recorded vs reproduced, and whether it holds."""

    subsystem: str
    figure: str
    kind: str
    recorded: Any
    reproduced: Any
    passed: bool
    detail: str


@dataclass
class Reproduction:
    """The outcome of one reproduction: where it ran, how long it took, every comparison."""

    commit: str
    scale: str
    subsystems: list[str]
    seconds: float = 0.0
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.comparisons) and all(c.passed for c in self.comparisons)

    @property
    def mismatches(self) -> list[Comparison]:
        return [c for c in self.comparisons if not c.passed]


def recorded_scale(gate: Mapping[str, Any]) -> str:
    """The one scale the gate's workloads ran at (an :class:`EvidenceError` when mixed/absent)."""
    sizes = gate.get("workload_sizes") or {}
    scales = {str(s.get("scale")) for s in sizes.values() if isinstance(s, dict)} - {"None"}
    if len(scales) != 1:
        raise EvidenceError(
            f"the gate records no single scale to reproduce (found {sorted(scales)})"
        )
    return scales.pop()


def evidence_command(scale: str, only: str | None) -> list[str]:
    """The command run inside the scratch checkout (``uv`` resolved on PATH)."""
    uv = shutil.which("uv")
    if uv is None:
        raise EvidenceError(
            "uv is not on PATH: the reproduction runs `uv run --frozen` in a scratch worktree"
        )
    if only is None:
        return [uv, "run", "--frozen", "agent-platform", "gate", "--no-validate", "--scale", scale]
    config = json.dumps(
        {
            "resources": {"evidence": {"config": {"scale": scale}}},
            "execution": {"config": {"in_process": {}}},
        }
    )
    selection = _SELECTION.get(only, f"group:{only}")
    return [uv, "run", "--frozen", "dagster", "asset", "materialize", "-m", "jobs.definitions",
            "--select", selection, "--config-json", config]  # fmt: skip


def _git(root: Path, *args: str) -> None:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise EvidenceError(f"git {' '.join(args)} failed: {done.stderr.strip()[:300]}")


@contextmanager
def scratch_checkout(root: Path, commit: str) -> Iterator[Path]:
    """A detached worktree of ``commit`` in a temporary folder, removed on exit."""
    with tempfile.TemporaryDirectory(prefix="ap-reproduce-") as tmp:
        checkout = Path(tmp) / "checkout"
        _git(root, "worktree", "add", "--detach", str(checkout), commit)
        try:
            yield checkout
        finally:
            subprocess.run(
                ["git", "-C", str(root), "worktree", "remove", "--force", str(checkout)],
                capture_output=True,
                check=False,
            )
            subprocess.run(
                ["git", "-C", str(root), "worktree", "prune"], capture_output=True, check=False
            )


def run_evidence(checkout: Path, scale: str, only: str | None, timeout: int) -> str:
    """Run the evidence workloads in ``checkout``; returns the run's output (for errors)."""
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    env["DAGSTER_HOME"] = str(checkout / ".data" / "dagster_home")
    Path(env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            evidence_command(scale, only),
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise EvidenceError(f"the reproduction run took longer than {timeout} s") from exc
    return (done.stdout + done.stderr)[-2000:]


def _run_id(manifests: Mapping[str, WorkloadManifest | None], subsystems: Sequence[str]) -> str:
    ids = {
        m.run_id
        for w in WORKLOADS
        if w.subsystem in subsystems and (m := manifests.get(w.name)) is not None
    }
    if len(ids) != 1:
        raise EvidenceError(
            f"the reproduction wrote no single run's manifests (found {sorted(ids)})"
        )
    return ids.pop()


def reproduced_subsystems(
    checkout: Path, contract: Contract, subsystems: Sequence[str], output: str
) -> dict[str, dict[str, Any]]:
    """The subsystem verdicts recomputed from the files the reproduction wrote."""
    lay = EvidenceLayout(checkout)
    manifests = {w.name: read_manifest(lay, w.name) for w in WORKLOADS}
    try:
        run_id = _run_id(manifests, subsystems)
    except EvidenceError as exc:
        raise EvidenceError(f"{exc}; the run said: {output}") from exc
    return {n: subsystem_verdict(lay, contract, run_id, n, manifests) for n in subsystems}


def reproduce(
    root: Path, contract: Contract, gate: Mapping[str, Any], only: str | None = None
) -> Reproduction:
    """Re-run the gate's commit in a scratch worktree and compare (see the module docstring)."""
    if contract.reproduction is None:
        raise ConfigError(
            "contract", "reproduction", None, "a reproduction section with timed_tolerance"
        )
    if only is not None and only not in SUBSYSTEMS:
        raise ConfigError("command line", "--only", only, f"one of {list(SUBSYSTEMS)}")
    commit = str(gate.get("commit", ""))
    if len(commit) != 40:
        raise EvidenceError(f"the gate records no commit to reproduce ({commit!r})")
    scale = recorded_scale(gate)
    names = [only] if only else list(SUBSYSTEMS)
    outcome = Reproduction(commit, scale, names)
    started = time.perf_counter()
    with scratch_checkout(root, commit) as checkout:
        output = run_evidence(checkout, scale, only, contract.reproduction.timeout_seconds)
        fresh = reproduced_subsystems(checkout, contract, names, output)
    outcome.seconds = round(time.perf_counter() - started, 1)
    outcome.comparisons = compare(contract, gate, fresh)
    return outcome


def compare(
    contract: Contract, gate: Mapping[str, Any], fresh: Mapping[str, Mapping[str, Any]]
) -> list[Comparison]:
    """Every threshold of the reproduced subsystems, recorded vs reproduced."""
    stated = gate.get("subsystems") or {}
    out: list[Comparison] = []
    for name, sub in fresh.items():
        recorded = (stated.get(name) or {}).get("judged") or {}
        for item in contract.thresholds_for(name):
            now = (sub.get("judged") or {}).get(item.figure)
            if not isinstance(now, dict):
                out.append(Comparison(name, item.figure, item.kind or "deterministic",
                                      (recorded.get(item.figure) or {}).get("value"), None, False,
                                      "the reproduced gate has no judged entry for this figure"))  # fmt: skip
                continue
            out.append(_compare_one(contract, item, recorded.get(item.figure), now))
    return out


def _compare_one(
    contract: Contract, item: Threshold, recorded: Any, fresh: Mapping[str, Any]
) -> Comparison:
    kind = item.kind or "deterministic"
    if not isinstance(recorded, dict):
        return Comparison(item.subsystem, item.figure, kind, None, fresh.get("value"), False,
                          "the gate has no judged entry for this figure")  # fmt: skip
    was, now = recorded.get("value"), fresh.get("value")
    same = ("n", "backend") if kind == "deterministic" else ("backend",)
    problems = [
        f"{key} {recorded.get(key)!r} vs {fresh.get(key)!r}"
        for key in same
        if recorded.get(key) != fresh.get(key)
    ]
    if kind == "deterministic" and was != now:
        problems.append("deterministic: must be equal")
    elif kind == "timed":
        problems.extend(_timed_problems(contract, item, was, now, fresh))
    detail = "; ".join(problems) or (
        "equal" if kind == "deterministic" else "passes again within tolerance"
    )
    return Comparison(item.subsystem, item.figure, kind, was, now, not problems, detail)


def _timed_problems(
    contract: Contract, item: Threshold, was: Any, now: Any, fresh: Mapping[str, Any]
) -> list[str]:
    problems = []
    if fresh.get("verdict") != "PASS":
        problems.append(f"does not pass {item.describe()} again")
    tolerances = contract.reproduction.timed_tolerance if contract.reproduction else {}
    rule = tolerances.get(item.unit)
    if rule is None:
        return [*problems, f"the contract states no tolerance for unit {item.unit!r}"]
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (was, now))
    if not numbers or not rule.holds(float(was), float(now)):
        problems.append(f"not {rule.describe()} of the recorded value")
    return problems


def add_to_report(report: ValidationReport, outcome: Reproduction) -> None:
    """Record the reproduction in a validation report: one check per compared figure."""
    report.add(
        "reproduce:run",
        "reproduction",
        bool(outcome.comparisons),
        f"re-ran commit {outcome.commit[:12]} at scale {outcome.scale} "
        f"({', '.join(outcome.subsystems)}) in {outcome.seconds:g} s",
    )
    for item in outcome.comparisons:
        report.add(
            f"reproduce:{item.subsystem}.{item.figure}",
            "reproduction",
            item.passed,
            f"{item.kind}: recorded {item.recorded!r}, reproduced {item.reproduced!r}: {item.detail}",
        )
