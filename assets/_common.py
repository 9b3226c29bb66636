"""Helpers every evidence asset shares: run ids, workload sizes, manifests, metadata."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dagster import AssetExecutionContext, MetadataValue

from agent_platform.evidence.layout import workload
from agent_platform.evidence.manifest import WorkloadManifest, record_workload
from agent_platform.stats import summarize
from jobs.resources import EvidenceResource

__all__ = ["SIZES", "finish", "latency_markdown", "markdown_table", "sizes_for"]

# Workload sizes: "full" is what `agent-platform gate` runs; "reduced" is for runs against
# shared servers. The sizes a run used are recorded in its manifest and the gate. Both scales
# replay the whole 30-day month, so the monthly cap's first refusal (and with it the alert
# lead time) is observed at either scale.
SIZES: dict[str, dict[str, dict[str, int]]] = {
    "full": {
        "state_fabric": {"rounds": 4, "sessions": 60, "gets_per_round": 500, "saves_per_round": 80},
        "router_decisions": {"decisions": 300},
        "router_failover": {"requests": 600},
        "notifications": {"notifications": 40},
        "finops": {"days": 30},
        "budget_concurrency": {"workers": 64},
        "orchestration": {"warmup": 1, "repeats": 2},
        "packages": {},
        "residency": {},
    },
    "reduced": {
        "state_fabric": {"rounds": 2, "sessions": 20, "gets_per_round": 400, "saves_per_round": 40},
        "router_decisions": {"decisions": 120},
        "router_failover": {"requests": 200},
        "notifications": {"notifications": 12},
        "finops": {"days": 30},
        "budget_concurrency": {"workers": 64},
        "orchestration": {"warmup": 1, "repeats": 1},
        "packages": {},
        "residency": {},
    },
}


def sizes_for(evidence: EvidenceResource, name: str) -> dict[str, int]:
    """The sizes of workload ``name`` at the resource's scale."""
    return {**SIZES[evidence.checked_scale()][name], **evidence.overrides.get(name, {})}


def finish(
    context: AssetExecutionContext,
    evidence: EvidenceResource,
    name: str,
    *,
    started_at: str,
    finished_at: str,
    sizes: Mapping[str, Any],
    backends: Mapping[str, Any],
    declared: Mapping[str, Any] | None = None,
) -> WorkloadManifest:
    """Record the workload's manifest for this run and log where its files went.

    ``declared`` is what the workload says about its own run (see ``WorkloadManifest``).
    """
    manifest = record_workload(
        evidence.layout(),
        workload=name,
        run_id=context.run.run_id,
        started_at=started_at,
        finished_at=finished_at,
        files=workload(name).files,
        workload_sizes={"scale": evidence.checked_scale(), **sizes},
        backends=backends,
        declared=declared,
    )
    for rel, digest in manifest.files.items():
        context.log.info(f"wrote {evidence.layout().path(rel)} (sha256 {digest[:12]})")
    return manifest


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> MetadataValue:
    """A Markdown table for asset metadata."""
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return MetadataValue.md("\n".join([head, rule, *body]))


def latency_markdown(groups: Mapping[str, Sequence[float]]) -> MetadataValue:
    """p50/p95/p99/max per group plus a coarse text histogram of each distribution."""
    rows = []
    for name, values in groups.items():
        if values:
            stats = summarize(values)
            rows.append(
                (
                    name,
                    int(stats["count"]),
                    f"{stats['p50']:.3f}",
                    f"{stats['p95']:.3f}",
                    f"{stats['p99']:.3f}",
                    f"{stats['max']:.3f}",
                    _histogram(values),
                )
            )
    return markdown_table(
        ("operation", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "distribution"), rows
    )


def _histogram(values: Sequence[float], bins: int = 8) -> str:
    low, high = min(values), max(values)
    if high <= low:
        return "█" * bins
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / (high - low) * bins))] += 1
    blocks = " ▁▂▃▄▅▆▇█"
    top = max(counts)
    return "".join(blocks[round(c / top * 8)] for c in counts)
