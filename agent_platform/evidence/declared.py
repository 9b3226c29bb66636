"""What a run declares about itself, checked against its files: sizes, sample counts, times.

A hash ties a file to its manifest, but a manifest can be rewritten together with its files.
These checks hold the files to what the run says it was:

- ``sizes``: every manifest records the scale it ran at, all manifests of the gate's run name
  the same scale, and each one's ``workload_sizes`` hold that scale's row of
  :data:`agent_platform.evidence.sizes.SIZES` key for key (a workload may record more about
  its run beside them), so a reduced run's files cannot stand under a gate that says full;
- ``samples``: where a workload declares ``declared.samples`` ({file: rows}), each CSV holds
  exactly that many sample rows: rows with ``percentile == "sample"`` when the file has a
  ``percentile`` column, every data row otherwise;
- ``timestamps``: every row's ``timestamp`` lies inside its workload's recorded window
  (``started_at`` .. ``finished_at``, with the contract's clock slack), and that window inside
  the gate's run. Files whose timestamps are simulated time by design are listed in
  :data:`SIMULATED_TIME_FILES` and left out, by name.

The tables are read with pandas (every cell as text, so nothing is reinterpreted).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from agent_platform.evidence import layout as paths
from agent_platform.evidence.layout import WORKLOADS, EvidenceLayout
from agent_platform.evidence.manifest import WorkloadManifest, read_manifest
from agent_platform.evidence.sizes import SIZES, expected_sizes

__all__ = ["SIMULATED_TIME_FILES", "Finding", "check_declared", "read_table", "sample_rows"]

SIMULATED_TIME_FILES: frozenset[str] = frozenset({paths.BUDGET_ALERTS})
"""Files whose ``timestamp`` is the simulated clock of a replay (the FinOps month's alerts)."""


@dataclass(frozen=True)
class Finding:
    """One declared-facts check: its id, outcome and what it found."""

    id: str
    passed: bool
    detail: str


def read_table(path: Path) -> pd.DataFrame:
    """A CSV as a table of strings (empty cells stay empty strings)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def sample_rows(table: pd.DataFrame) -> int:
    """Sample rows of an evidence table (see the module docstring for the rule)."""
    if "percentile" in table.columns:
        return int((table["percentile"] == "sample").sum())
    return len(table)


def _when(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _manifests(lay: EvidenceLayout, run_id: str) -> Iterator[WorkloadManifest]:
    for work in WORKLOADS:
        manifest = read_manifest(lay, work.name)
        if manifest is not None and manifest.run_id == run_id:
            yield manifest


def check_declared(root: Path, gate: dict[str, Any], slack_seconds: float) -> list[Finding]:
    """The three declared-facts checks for the gate's run under ``root``."""
    lay = EvidenceLayout(root)
    stated = gate.get("run")
    run: dict[str, Any] = stated if isinstance(stated, dict) else {}
    manifests = list(_manifests(lay, str(run.get("run_id", ""))))
    slack = timedelta(seconds=slack_seconds)
    return [
        _sizes(manifests),
        _samples(lay, manifests),
        _timestamps(lay, manifests, run, slack),
    ]


def _sizes(manifests: list[WorkloadManifest]) -> Finding:
    scales = {str(m.workload_sizes.get("scale")) for m in manifests}
    bad = [f"{m.workload}: no scale recorded" for m in manifests if "scale" not in m.workload_sizes]
    if len(scales) > 1:
        bad.append(f"the workloads ran at different scales {sorted(scales)}")
    for manifest in manifests:
        scale = str(manifest.workload_sizes.get("scale"))
        wanted = expected_sizes(scale, manifest.workload) or {}
        differ = {k: manifest.workload_sizes.get(k) for k, v in wanted.items()
                  if manifest.workload_sizes.get(k) != v}  # fmt: skip
        if scale in SIZES and differ:
            bad.append(f"{manifest.workload}: sizes {differ} are not scale {scale}'s {wanted}")
        elif scale not in SIZES and "scale" in manifest.workload_sizes:
            bad.append(f"{manifest.workload}: unknown scale {scale!r}; known: {sorted(SIZES)}")
    detail = "; ".join(bad) or f"{len(manifests)} workloads at scale {', '.join(sorted(scales))}"
    return Finding("declared:sizes", bool(manifests) and not bad, detail)


def _samples(lay: EvidenceLayout, manifests: list[WorkloadManifest]) -> Finding:
    bad: list[str] = []
    checked = 0
    for manifest in manifests:
        declared = manifest.declared.get("samples") or {}
        if not isinstance(declared, dict):
            bad.append(f"{manifest.workload}: declared samples is not a mapping")
            continue
        for rel, wanted in sorted(declared.items()):
            path = lay.path(rel)
            if rel not in manifest.files or not path.is_file():
                bad.append(f"{rel}: declared by {manifest.workload} but not among its files")
                continue
            found = sample_rows(read_table(path))
            checked += 1
            if found != wanted:
                bad.append(f"{rel}: {found} sample rows, {manifest.workload} declares {wanted}")
    undeclared = sorted(m.workload for m in manifests if not m.declared.get("samples"))
    detail = "; ".join(bad) or f"{checked} files hold the sample rows their workload declares"
    if undeclared and not bad:
        detail += f" (no declared samples: {', '.join(undeclared)})"
    return Finding("declared:samples", not bad, detail)


def _timestamps(
    lay: EvidenceLayout,
    manifests: list[WorkloadManifest],
    run: dict[str, Any],
    slack: timedelta,
) -> Finding:
    bad: list[str] = []
    rows = 0
    run_start, run_end = (
        _when(str(run.get("started_at", ""))),
        _when(str(run.get("finished_at", ""))),
    )
    for manifest in manifests:
        start, end = _when(manifest.started_at), _when(manifest.finished_at)
        if start is None or end is None or end < start:
            bad.append(
                f"{manifest.workload}: no valid window {manifest.started_at}..{manifest.finished_at}"
            )
            continue
        if (
            run_start is not None
            and run_end is not None
            and (start < run_start - slack or end > run_end + slack)
        ):
            bad.append(f"{manifest.workload}: its window lies outside the gate's run")
        for rel in manifest.files:
            if rel in SIMULATED_TIME_FILES or not rel.endswith(".csv"):
                continue
            counted, problem = _outside(lay.path(rel), start - slack, end + slack)
            rows += counted
            if problem:
                bad.append(f"{rel}: {problem}")
    skipped = ", ".join(sorted(SIMULATED_TIME_FILES))
    detail = (
        "; ".join(bad)
        or f"{rows} timestamps inside their workload's window ({skipped}: simulated time, not checked)"
    )
    return Finding("declared:timestamps", bool(manifests) and not bad, detail)


def _outside(path: Path, low: datetime, high: datetime) -> tuple[int, str | None]:
    """(rows with a timestamp, the first problem) for one CSV."""
    if not path.is_file():
        return 0, "missing"
    table = read_table(path)
    if "timestamp" not in table.columns:
        return 0, None
    moments = pd.to_datetime(table["timestamp"], utc=True, errors="coerce", format="ISO8601")
    unparsed = table["timestamp"][moments.isna()]
    if len(unparsed):
        return len(table), f"timestamp {unparsed.iloc[0]!r} is not ISO 8601"
    early = moments < pd.Timestamp(low)
    late = moments > pd.Timestamp(high)
    if early.any() or late.any():
        first = table["timestamp"][early | late].iloc[0]
        count = int(early.sum() + late.sum())
        return len(
            table
        ), f"{count} rows outside the window {low:%H:%M:%S}..{high:%H:%M:%S} (first {first})"
    return len(table), None
