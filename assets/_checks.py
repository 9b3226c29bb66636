"""The asset-check factory: one check per contract threshold, reading the files back.

Check metadata is typed (the measured figure as a float or int, the threshold's value as a
float), so the UI plots a check's figure over runs next to its threshold.

A check never trusts the asset's in-memory numbers: it reads the workload's manifest (which
must belong to the same run), recomputes the figure from the file with the same reader the
gate and the validator use, and compares it with the threshold in the contract.
"""

from collections.abc import Sequence

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
from agent_platform.evidence.contract_model import Threshold, meets
from agent_platform.evidence.figures import workload_figures
from agent_platform.evidence.formats import NOT_MEASURED
from agent_platform.evidence.layout import EvidenceLayout
from agent_platform.evidence.manifest import read_manifest, staleness
from assets._common import typed_value
from jobs.resources import EvidenceResource

__all__ = ["evaluate_threshold", "threshold_checks"]


def evaluate_threshold(
    layout: EvidenceLayout, run_id: str, workload_name: str, threshold: Threshold
) -> AssetCheckResult:
    """The verdict on one figure of ``workload_name`` for ``run_id``, with its evidence."""
    reason = staleness(layout, read_manifest(layout, workload_name), run_id)
    value: float | int | str = NOT_MEASURED
    if reason is None:
        try:
            value = workload_figures(layout, workload_name).get(threshold.figure, NOT_MEASURED)
        except EvidenceError as exc:
            reason = str(exc)
    passed = reason is None and meets(value, threshold)
    metadata: dict[str, MetadataValue] = {
        "figure": MetadataValue.text(threshold.figure),
        "measured": typed_value(value),
        "threshold": MetadataValue.text(threshold.describe()),
        "threshold value": MetadataValue.float(float(threshold.value)),
        "seed requirement": MetadataValue.text(str(threshold.seed)),
    }
    if reason is not None:
        metadata["not measured because"] = MetadataValue.text(reason)
    return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.ERROR, metadata=metadata)


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
