"""``evidence/report.html``: one offline page with the run's verdicts, figures, charts and files.

The page is built from the gate JSON the run just wrote (verdict per subsystem, every figure
with its threshold, the notes) and from the charts drawn from the run's evidence files. It
loads nothing from the network: the style is inline, there is no script, the charts and the
CSVs are relative links beside it, so the folder can be zipped, mailed and opened anywhere.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from agent_platform.errors import EvidenceError
from agent_platform.evidence.charts import ChartResult, render_charts
from agent_platform.evidence.files import utc_now_iso, write_text_atomic
from agent_platform.evidence.formats import NOT_MEASURED
from agent_platform.evidence.layout import GATE_PATH, SUBSYSTEMS, EvidenceLayout

__all__ = ["REPORT_PATH", "publish_report", "read_gate", "render_report", "write_report"]

REPORT_PATH = "evidence/report.html"
_STYLE = """
body{font-family:DejaVu Sans,Arial,sans-serif;margin:24px auto;max-width:1120px;color:#222}
h1{margin-bottom:4px} h2{margin-top:36px;border-bottom:1px solid #ccc;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0} td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left;font-size:14px} th{background:#f3f3f3} td.num{text-align:right;
font-family:DejaVu Sans Mono,monospace} .badge{display:inline-block;padding:2px 10px;
border-radius:4px;color:#fff;font-weight:bold;font-size:15px} .PASS,.pass{background:#2e7d32}
.FAIL,.fail{background:#c62828} .NOT_MEASURED,.not-measured{background:#757575}
td.pass,td.fail,td.not-measured{color:#fff;font-weight:bold} figure{margin:16px 0}
img{max-width:100%;border:1px solid #ddd} .missing{color:#c62828} .meta td{font-size:13px}
"""


def _rel(target: str) -> str:
    """``target`` (relative to the evidence root) as a link relative to the report."""
    return Path(os.path.relpath(target, Path(REPORT_PATH).parent)).as_posix()


def _png_size(path: Path) -> tuple[int, int] | None:
    # The PNG header holds the size at bytes 16..24 (IHDR); None when it is not a PNG.
    with path.open("rb") as handle:
        head = handle.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def _cell(value: Any) -> str:
    css = ' class="num"' if isinstance(value, int | float) and not isinstance(value, bool) else ""
    return f"<td{css}>{escape(str(value))}</td>"


def _figure_rows(sub: Mapping[str, Any]) -> list[str]:
    figures: Mapping[str, Any] = sub.get("figures", {})
    thresholds: Mapping[str, str] = sub.get("thresholds", {})
    failed = set(sub.get("failed", []))
    ordered = [*thresholds, *(name for name in figures if name not in thresholds)]
    rows = []
    for name in ordered:
        value = figures.get(name, NOT_MEASURED)
        if name not in thresholds:
            verdict = "<td>no threshold</td>"
        elif value == NOT_MEASURED:
            verdict = '<td class="not-measured">not measured</td>'
        else:
            word = "fail" if name in failed else "pass"
            verdict = f'<td class="{word}">{word}</td>'
        limit = escape(thresholds.get(name, ""))
        rows.append(f"<tr><td>{escape(name)}</td>{_cell(value)}<td>{limit}</td>{verdict}</tr>")
    return rows


def _files(lay: EvidenceLayout, relatives: Sequence[str]) -> str:
    items = []
    for rel in relatives:
        if lay.path(rel).is_file():
            items.append(f'<li><a href="{escape(_rel(rel))}">{escape(rel)}</a></li>')
        else:
            items.append(f'<li class="missing">{escape(rel)} (missing)</li>')
    return "<ul>" + "".join(items) + "</ul>"


def _chart(lay: EvidenceLayout, result: ChartResult) -> str:
    spec = result.spec
    sources = ", ".join(f'<a href="{escape(_rel(s))}">{escape(s)}</a>' for s in spec.sources)
    if not result.drawn:
        return f'<p class="missing">{escape(spec.title)}: {escape(result.reason)}</p>'
    size = _png_size(lay.path(spec.path))
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    return (
        f'<figure><img src="{escape(_rel(spec.path))}" alt="{escape(spec.title)}"{dims}>'
        f"<figcaption>{escape(spec.title)}, drawn from {sources}</figcaption></figure>"
    )


def _subsystem(
    lay: EvidenceLayout, name: str, sub: Mapping[str, Any], charts: Sequence[ChartResult]
) -> str:
    status = str(sub.get("status", NOT_MEASURED))
    notes = "".join(f"<li>{escape(str(n))}</li>" for n in sub.get("notes", []))
    parts = [
        f'<section id="{escape(name)}"><h2>{escape(name)} '
        f'<span class="badge {escape(status)}">{escape(status)}</span></h2>',
        "<table><tr><th>figure</th><th>measured</th><th>threshold</th><th>verdict</th></tr>",
        *_figure_rows(sub),
        "</table>",
        f"<p>Notes:</p><ul>{notes}</ul>" if notes else "",
        "<p>Evidence files:</p>" + _files(lay, sub.get("evidence", [])),
        *(_chart(lay, c) for c in charts if c.spec.subsystem == name),
        "</section>",
    ]
    return "\n".join(p for p in parts if p)


def _header(gate: Mapping[str, Any]) -> str:
    run = gate.get("run", {})
    rows = {
        "contract": gate.get("contract_id", ""),
        "run id": run.get("run_id", ""),
        "started / finished": f"{run.get('started_at', '')} / {run.get('finished_at', '')}",
        "commit": f"{gate.get('commit', '')} (worktree dirty: {gate.get('worktree_dirty')})",
        "backends": gate.get("backends", {}),
        "provider traffic": gate.get("provider_traffic", {}),
        "quality gates passed / failed": (
            f"{gate.get('quality_gates_passed')} / {gate.get('quality_gates_failed')}"
        ),
        "gate JSON": f'<a href="{escape(_rel(GATE_PATH))}">{escape(GATE_PATH)}</a>',
    }
    cells = "".join(
        f"<tr><th>{escape(k)}</th><td>{v if k == 'gate JSON' else escape(str(v))}</td></tr>"
        for k, v in rows.items()
    )
    status = str(gate.get("status", NOT_MEASURED))
    return (
        f"<h1>{escape(str(gate.get('gate', 'gate')))} evidence report "
        f'<span class="badge {escape(status)}">{escape(status)}</span></h1>'
        f'<table class="meta">{cells}</table>'
    )


def render_report(
    lay: EvidenceLayout, gate: Mapping[str, Any], charts: Sequence[ChartResult]
) -> str:
    """The report page for ``gate`` and ``charts`` (links relative to ``REPORT_PATH``)."""
    subsystems: Mapping[str, Any] = gate.get("subsystems", {})
    names = [
        *(n for n in SUBSYSTEMS if n in subsystems),
        *(n for n in subsystems if n not in SUBSYSTEMS),
    ]
    toc = " · ".join(
        f'<a href="#{escape(n)}">{escape(n)}</a> ({escape(str(subsystems[n].get("status")))})'
        for n in names
    )
    body = "\n".join(_subsystem(lay, n, subsystems[n], charts) for n in names)
    title = escape(f"{gate.get('gate', 'gate')} report, run {gate.get('run', {}).get('run_id')}")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head><body>\n{_header(gate)}\n<p>{toc}</p>\n{body}\n"
        f"<footer><p>Written {escape(utc_now_iso())} by agent_platform.evidence.report_html "
        "from the gate JSON and the evidence files of this run; no network resources."
        "</p></footer></body></html>\n"
    )


def write_report(
    lay: EvidenceLayout, gate: Mapping[str, Any], charts: Sequence[ChartResult]
) -> Path:
    """Write ``evidence/report.html`` atomically under ``lay.root``; returns its path."""
    path = lay.path(REPORT_PATH)
    write_text_atomic(path, render_report(lay, gate, charts))
    return path


def read_gate(lay: EvidenceLayout) -> dict[str, Any]:
    """The gate JSON under ``lay.root`` (an :class:`EvidenceError` when absent or unreadable)."""
    try:
        document = json.loads(lay.gate.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvidenceError(f"{lay.gate}: cannot read the gate JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise EvidenceError(f"{lay.gate}: the gate JSON is not an object")
    return document


def publish_report(lay: EvidenceLayout, gate: Mapping[str, Any]) -> tuple[Path, list[ChartResult]]:
    """Draw the run's charts and write the report for ``gate``; the report's path and charts.

    The one entry point for both the Dagster report asset and a caller that computed the gate
    outside the job (the CLI, when a blocking check kept the gate asset from running).
    """
    charts = render_charts(lay)
    return write_report(lay, gate, charts), charts
