"""The asset-check factory: one check per contract threshold, reading the files back.

Check metadata is typed (the measured figure as a float or int, the threshold's value as a
float), so the UI plots a check's figure over runs next to its threshold.

A check never trusts the asset's in-memory numbers: it reads the workload's manifest (which
must belong to the same run), recomputes the figure from the file with the same reader the
gate and the validator use, and judges it as the gate does (:func:`judge`: a rate by its
Wilson interval, with its n), so a check and the gate can never disagree.
"""

from collections.abc import Sequence
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from agent_platform.errors import EvidenceError
from agent_platform.evidence.contract_model import Threshold
from agent_platform.evidence.figures import Figures, workload_figures
from agent_platform.evidence.judge import judge
from agent_platform.evidence.layout import EvidenceLayout
from agent_platform.evidence.manifest import read_manifest, staleness
from assets._common import typed_value
from jobs.resources import EvidenceResource

__all__ = ["evaluate_threshold", "threshold_checks"]


def evaluate_threshold(
    layout: EvidenceLayout, run_id: str, workload_name: str, threshold: Threshold
) -> AssetCheckResult:
    """The verdict on one figure of ``workload_name`` for ``run_id``, with its evidence."""
    manifest = read_manifest(layout, workload_name)
    reason = staleness(layout, manifest, run_id)
    figures: Figures = {}
    if reason is None:
        try:
            figures = workload_figures(layout, workload_name)
        except EvidenceError as exc:
            reason = str(exc)
    judged = judge(threshold, figures, manifest.backends if manifest is not None else {})
    passed = reason is None and judged["verdict"] == "PASS"
    metadata = _metadata(threshold, judged, reason)
    return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.ERROR, metadata=metadata)


def _metadata(
    threshold: Threshold, judged: dict[str, Any], reason: str | None
) -> dict[str, MetadataValue]:
    """Typed check metadata: the figure, its threshold, n and interval, and any caveat."""
    metadata: dict[str, MetadataValue] = {
        "figure": MetadataValue.text(threshold.figure),
        "measured": typed_value(judged["value"]),
        "threshold": MetadataValue.text(threshold.describe()),
        "threshold value": MetadataValue.float(float(threshold.value)),
        "judged on": MetadataValue.text(str(judged.get("judged_on", "value"))),
        "seed requirement": MetadataValue.text(str(threshold.seed)),
    }
    if isinstance(judged.get("n"), int):
        metadata["n"] = MetadataValue.int(judged["n"])
    if judged.get("interval"):
        low, high = judged["interval"]
        metadata["interval low"] = MetadataValue.float(float(low))
        metadata["interval high"] = MetadataValue.float(float(high))
    for note in ("problem", "met_on_substitute", "measured_on_substitute"):
        if note in judged:
            metadata[note.replace("_", " ")] = MetadataValue.text(str(judged[note]))
    if reason is not None:
        metadata["not measured because"] = MetadataValue.text(reason)
    return metadata


def _one_check(
    key: AssetKey, workload_name: str, threshold: Threshold, blocking: bool
) -> AssetChecksDefinition:
    @asset_check(
        asset=key,
        name=threshold.figure,
        blocking=blocking,
        description=f"{threshold.describe()} (seed: {threshold.seed})",
    )
    def _check(context: AssetCheckExecutionContext, evidence: EvidenceResource) -> AssetCheckResult:
        return evaluate_threshold(evidence.layout(), context.run.run_id, workload_name, threshold)

    return _check


def threshold_checks(
    key: AssetKey,
    workload_name: str,
    thresholds: Sequence[Threshold],
    *,
    blocking: bool = True,
) -> list[AssetChecksDefinition]:
    """One check per threshold on ``key``, blocking by default (the gate depends on them)."""
    return [_one_check(key, workload_name, t, blocking) for t in thresholds]
