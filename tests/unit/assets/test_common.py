"""Asset metadata helpers: typed values the Dagster UI can plot, tables with schemas."""

import math
from pathlib import Path

from dagster import (
    BoolMetadataValue,
    FloatMetadataValue,
    IntMetadataValue,
    PathMetadataValue,
    TableMetadataValue,
    TextMetadataValue,
)

from agent_platform.evidence.layout import EvidenceLayout
from agent_platform.stats import summarize
from assets._common import (
    evidence_metadata,
    figure_metadata,
    latency_markdown,
    latency_table,
    markdown_table,
    path_metadata,
    typed_table,
    typed_value,
)


def test_values_keep_their_type_and_bools_are_not_ints() -> None:
    assert isinstance(typed_value(0.93), FloatMetadataValue)
    assert isinstance(typed_value(7), IntMetadataValue)
    assert isinstance(typed_value(True), BoolMetadataValue)
    assert isinstance(typed_value("NOT_MEASURED"), TextMetadataValue)
    assert isinstance(typed_value(math.nan), TextMetadataValue)
    assert isinstance(typed_value(Path("/x/y.csv")), PathMetadataValue)
    assert isinstance(path_metadata("evidence/report.html"), PathMetadataValue)


def test_figures_are_prefixed_and_typed() -> None:
    out = figure_metadata({"routing_accuracy": 0.98, "routing_decisions": 60}, prefix="router.")
    assert out["router.routing_accuracy"].value == 0.98
    assert isinstance(out["router.routing_decisions"], IntMetadataValue)


def test_table_columns_are_typed_from_their_cells_and_words_stay_words() -> None:
    table = typed_table(
        ("name", "n", "ms", "ok", "note"),
        [("a", 3, "1.50", True, "-"), ("b", "4", 2.0, False, 5)],
    )
    assert isinstance(table, TableMetadataValue)
    kinds = {c.name: c.type for c in table.schema.columns}
    assert kinds == {"name": "string", "n": "int", "ms": "float", "ok": "bool", "note": "string"}
    assert table.records[0].data == {"name": "a", "n": 3, "ms": 1.5, "ok": True, "note": "-"}
    assert table.records[1].data["note"] == "5"


def test_latency_table_gives_n_percentiles_and_max_per_operation() -> None:
    values = [float(v) for v in range(1, 101)]
    table = latency_table({"get": values, "empty": []})
    assert [c.name for c in table.schema.columns] == [
        "operation",
        "n",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
    ]
    (row,) = table.records
    stats = summarize(values)
    assert row.data["operation"] == "get" and row.data["n"] == 100
    assert row.data["p95_ms"] == round(stats["p95"], 4) and row.data["max_ms"] == 100.0


def test_the_former_markdown_helpers_now_return_typed_tables() -> None:
    assert isinstance(markdown_table(("a",), [(1,)]), TableMetadataValue)
    assert isinstance(latency_markdown({"x": [1.0]}), TableMetadataValue)


def test_family_metadata_says_why_figures_are_missing_and_links_its_own_charts(
    tmp_path: Path,
) -> None:
    lay = EvidenceLayout(tmp_path)
    decisions = evidence_metadata(lay, "router_decisions")
    missing = decisions["figures not recomputed"]
    assert isinstance(missing, TextMetadataValue) and "missing" in missing.value
    chart = decisions["chart latency_router (drawn by the report step)"]
    assert isinstance(chart, PathMetadataValue)
    assert chart.value == str(tmp_path / "evidence/charts/latency_router.png")
    assert not any("failover_outcomes" in key for key in decisions)
    # The burst shares the finops subsystem but not the month replay's files: no budget chart.
    assert not any(key.startswith("chart") for key in evidence_metadata(lay, "budget_concurrency"))
    assert "chart budget_burn (drawn by the report step)" in evidence_metadata(lay, "finops")
