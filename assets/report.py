"""The report asset: charts of this run's evidence and ``evidence/report.html``, after the gate.

It runs downstream of the gate asset and reads only files: the gate JSON the gate asset just
wrote (which must name this run) and the evidence CSVs. Every chart is linked from the
asset's metadata as a path, with the number of charts drawn as a typed figure, so the UI shows
where the pictures are and plots, over runs, whether any went missing.
"""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from agent_platform.errors import EvidenceError
from agent_platform.evidence.report_html import REPORT_PATH, publish_report, read_gate
from assets._common import path_metadata
from assets.gate import GATE_KEY
from jobs.resources import EvidenceResource

__all__ = ["REPORT_KEY", "g1_evidence_report"]

REPORT_KEY = AssetKey(["g1_evidence_report"])


@asset(
    key=REPORT_KEY,
    deps=[GATE_KEY],
    group_name="gate",
    description=f"{REPORT_PATH} and evidence/charts/*.png, drawn from this run's files.",
)
def g1_evidence_report(
    context: AssetExecutionContext, evidence: EvidenceResource
) -> MaterializeResult:
    lay = evidence.layout()
    gate = read_gate(lay)
    gate_run = gate.get("run", {}).get("run_id")
    if gate_run != context.run.run_id:
        raise EvidenceError(
            f"{lay.gate}: written by run {gate_run!r}, not this run {context.run.run_id!r}"
        )
    path, charts = publish_report(lay, gate)
    context.log.info(f"wrote {path}")
    metadata: dict[str, MetadataValue] = {
        "report": path_metadata(path),
        "charts drawn": MetadataValue.int(sum(c.drawn for c in charts)),
        "charts not drawn": MetadataValue.int(sum(not c.drawn for c in charts)),
    }
    for chart in charts:
        if chart.drawn:
            metadata[f"chart {chart.spec.name}"] = path_metadata(lay.path(chart.spec.path))
        else:
            metadata[f"chart {chart.spec.name}"] = MetadataValue.text(chart.reason)
            context.log.warning(f"chart {chart.spec.name} {chart.reason}")
    return MaterializeResult(metadata=metadata)
