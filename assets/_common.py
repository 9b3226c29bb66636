"""Helpers every evidence asset shares: run ids, workload sizes, manifests, metadata."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
)

from agent_platform.errors import EvidenceError
from agent_platform.evidence.charts import CHARTS
from agent_platform.evidence.figures import workload_figures
from agent_platform.evidence.layout import EvidenceLayout, workload
from agent_platform.evidence.manifest import WorkloadManifest, record_workload
from agent_platform.evidence.sizes import SIZES
from agent_platform.stats import summarize
from jobs.resources import EvidenceResource

__all__ = [
    "SIZES",
    "evidence_metadata",
    "figure_metadata",
    "finish",
    "latency_markdown",
    "latency_table",
    "markdown_table",
    "path_metadata",
    "sizes_for",
    "typed_table",
    "typed_value",
]

Cell = str | int | float | bool | None


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


def typed_value(value: Any) -> MetadataValue:
    """One metadata value with its Dagster type, so the UI can plot numbers over runs.

    ``bool`` is tested before ``int`` (a ``bool`` is an ``int`` in Python); a non-finite float
    is shown as text, since it is not a measured value the Plots tab could draw.
    """
    if isinstance(value, bool):
        return MetadataValue.bool(value)
    if isinstance(value, int):
        return MetadataValue.int(value)
    if isinstance(value, float):
        return (
            MetadataValue.float(value) if math.isfinite(value) else MetadataValue.text(str(value))
        )
    if isinstance(value, Path):
        return MetadataValue.path(value)
    return MetadataValue.text(str(value))


def figure_metadata(figures: Mapping[str, Any], prefix: str = "") -> dict[str, MetadataValue]:
    """Every figure as a typed entry named ``prefix + name`` (``NOT_MEASURED`` stays text)."""
    return {f"{prefix}{name}": typed_value(value) for name, value in figures.items()}


def path_metadata(path: str | Path) -> MetadataValue:
    """A file path entry (shown as a path, copyable, in the UI)."""
    return MetadataValue.path(str(path))


def evidence_metadata(layout: EvidenceLayout, name: str) -> dict[str, MetadataValue]:
    """Workload ``name``'s figures recomputed from the files it just wrote, and its charts.

    Figures are read back with the gate's own readers (:func:`workload_figures`), never taken
    from the workload's memory, and typed under ``subsystem.figure`` (the gate asset's names),
    so the Plots tab draws each over runs on the family asset too. A file that does not read
    back leaves one text entry saying why; the blocking checks then fail on the same file.

    Charts are drawn by the report asset after the gate, so when this asset runs the PNG is
    not this run's yet: the entry gives the path where the report step will draw it and says
    so in its label (the report asset's metadata says whether it was drawn). Only charts of
    this subsystem drawn entirely from this workload's files are linked (the month replay's
    budget chart is not linked from the concurrency burst, which shares its subsystem).
    """
    spec = workload(name)
    try:
        metadata = figure_metadata(workload_figures(layout, name), prefix=f"{spec.subsystem}.")
    except EvidenceError as exc:
        metadata = {"figures not recomputed": MetadataValue.text(str(exc))}
    for chart in CHARTS:
        if chart.subsystem == spec.subsystem and set(chart.sources) <= set(spec.files):
            label = f"chart {chart.name} (drawn by the report step)"
            metadata[label] = path_metadata(layout.path(chart.path))
    return metadata


def typed_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> MetadataValue:
    """A table with a schema: each column typed from its cells (int, float, bool or string).

    A column is numeric only when every non-empty cell is a number or a string that parses as
    one; a column mixing numbers and words (``"-"``, ``NOT_MEASURED``) stays a string column,
    so no cell is ever changed into something it did not say.
    """
    kinds = [_column_kind([row[i] for row in rows]) for i in range(len(columns))]
    schema = TableSchema(
        columns=[
            TableColumn(name=name, type=kind) for name, kind in zip(columns, kinds, strict=True)
        ]
    )
    records = [
        TableRecord(
            {name: _cast(cell, kind) for name, kind, cell in zip(columns, kinds, row, strict=True)}
        )
        for row in rows
    ]
    return MetadataValue.table(records=records, schema=schema)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> MetadataValue:
    """The former Markdown table helper, now a typed table (see :func:`typed_table`)."""
    return typed_table(columns, rows)


LATENCY_COLUMNS = ("operation", "n", "p50_ms", "p95_ms", "p99_ms", "max_ms")


def latency_table(groups: Mapping[str, Sequence[float]]) -> MetadataValue:
    """n, p50, p95, p99 and max (ms) per operation, as a typed table; empty groups are left out.

    The distributions themselves are drawn as charts (:mod:`agent_platform.evidence.charts`).
    """
    rows = []
    for name, values in groups.items():
        if values:
            stats = summarize(values)
            rows.append(
                (
                    name,
                    int(stats["count"]),
                    *(round(float(stats[k]), 4) for k in ("p50", "p95", "p99", "max")),
                )
            )
    return typed_table(LATENCY_COLUMNS, rows)


def latency_markdown(groups: Mapping[str, Sequence[float]]) -> MetadataValue:
    """The former Markdown latency helper, now :func:`latency_table`."""
    return latency_table(groups)


def _number(cell: Any) -> float | int | None:
    if isinstance(cell, bool):
        return None
    if isinstance(cell, int | float):
        return cell
    if isinstance(cell, str):
        try:
            return int(cell)
        except ValueError:
            pass
        try:
            value = float(cell)
        except ValueError:
            return None
        return value if math.isfinite(value) else None
    return None


def _column_kind(cells: Sequence[Any]) -> str:
    present = [c for c in cells if c is not None and c != ""]
    if not present:
        return "string"
    if all(isinstance(c, bool) for c in present):
        return "bool"
    numbers = [_number(c) for c in present]
    if any(n is None for n in numbers):
        return "string"
    return "int" if all(isinstance(n, int) for n in numbers) else "float"


def _cast(cell: Any, kind: str) -> Cell:
    if cell is None or cell == "":
        return None
    if kind == "bool":
        return bool(cell)
    number = _number(cell)
    if kind == "int" and number is not None:
        return int(number)
    if kind == "float" and number is not None:
        return float(number)
    return str(cell)
