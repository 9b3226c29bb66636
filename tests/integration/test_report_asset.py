"""The report asset draws the charts and writes report.html after the gate, links each chart
from its metadata, and the gate's metadata carries every figure as a typed number."""

from pathlib import Path

from dagster import (
    AssetExecutionContext,
    FloatMetadataValue,
    IntMetadataValue,
    PathMetadataValue,
    TableMetadataValue,
    asset,
    materialize,
)

from agent_platform.evidence.charts import CHARTS
from agent_platform.evidence.report_html import REPORT_PATH
from assets.gate import GATE_KEY, build_gate_asset
from assets.report import REPORT_KEY, g1_evidence_report
from jobs.resources import EvidenceResource
from tests.support.report_tree import write_report_tree


@asset
def fixture_evidence(context: AssetExecutionContext, evidence: EvidenceResource) -> None:
    """Every evidence file of this run, written through the real formats."""
    write_report_tree(evidence.evidence_root(), run_id=context.run.run_id)


def _metadata(result, key):  # type: ignore[no-untyped-def]
    (event,) = result.asset_materializations_for_node(key.path[-1])
    return event.metadata


def test_gate_then_report_write_the_page_and_link_every_chart(tmp_path: Path) -> None:
    evidence = EvidenceResource(root=str(tmp_path))
    gate = build_gate_asset([fixture_evidence.key])
    result = materialize(
        [fixture_evidence, gate, g1_evidence_report], resources={"evidence": evidence}
    )
    assert result.success
    assert (tmp_path / REPORT_PATH).is_file()
    report = _metadata(result, REPORT_KEY)
    assert report["charts drawn"] == IntMetadataValue(len(CHARTS))
    assert report["charts not drawn"] == IntMetadataValue(0)
    for chart in CHARTS:
        entry = report[f"chart {chart.name}"]
        assert isinstance(entry, PathMetadataValue)
        assert Path(entry.path).is_file() and Path(entry.path) == tmp_path / chart.path
    figures = _metadata(result, GATE_KEY)
    assert isinstance(figures["state_fabric.get_latency_p95_ms"], FloatMetadataValue)
    assert isinstance(figures["state_fabric.get_samples"], IntMetadataValue)
    assert isinstance(figures["finops.budget_breaches"], IntMetadataValue)
    assert isinstance(figures["subsystems"], TableMetadataValue)
    assert isinstance(figures["quality_gates_passed"], IntMetadataValue)


def test_the_report_refuses_a_gate_json_written_by_another_run(tmp_path: Path) -> None:
    write_report_tree(tmp_path, run_id="an-earlier-run")
    result = materialize(
        [g1_evidence_report],
        resources={"evidence": EvidenceResource(root=str(tmp_path))},
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "written by run 'an-earlier-run', not this run" in str(failure.step_failure_data.error)
    assert not (tmp_path / REPORT_PATH).exists()
