"""PNG charts of a run's evidence, drawn with matplotlib (Agg) from the files the run wrote.

Charts are pictures of the evidence CSVs, never of a workload's memory: a chart shows what an
auditor would find in the file. :func:`render_charts` writes them under ``evidence/charts/``;
the HTML report and the Dagster report asset link them.
"""

from agent_platform.evidence.charts.catalog import (
    CHARTS,
    CHARTS_DIR,
    ChartResult,
    ChartSpec,
    render_charts,
)

__all__ = ["CHARTS", "CHARTS_DIR", "ChartResult", "ChartSpec", "render_charts"]
