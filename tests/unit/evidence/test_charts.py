"""Charts: drawn from the evidence files, counted from their rows, never stale, never guessed."""

import struct
from collections import Counter
from pathlib import Path

import pytest

from agent_platform.errors import EvidenceError
from agent_platform.evidence import layout as paths
from agent_platform.evidence.charts import CHARTS, render_charts
from agent_platform.evidence.charts.latency import (
    notification_samples,
    orchestration_samples,
    state_samples,
)
from agent_platform.evidence.charts.outcomes import (
    DELIVERY_KINDS,
    FAILOVER_KINDS,
    delivery_counts,
    failover_counts,
)
from agent_platform.evidence.layout import EvidenceLayout
from tests.support.report_tree import write_report_tree


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> EvidenceLayout:
    root = tmp_path_factory.mktemp("tree")
    write_report_tree(root)
    return EvidenceLayout(root)


def test_every_chart_is_drawn_as_a_png_under_evidence_charts(tree: EvidenceLayout) -> None:
    results = render_charts(tree)
    assert [r.spec.name for r in results] == [c.name for c in CHARTS]
    assert all(r.drawn for r in results), [r.reason for r in results if not r.drawn]
    for result in results:
        assert result.spec.path.startswith("evidence/charts/")
        width, height = png_size(tree.path(result.spec.path))
        assert width >= 600 and height >= 250
    assert {c.subsystem for c in CHARTS} == {
        "finops",
        "state_fabric",
        "router",
        "notifications",
        "orchestration",
    }


def test_delivery_counts_split_first_attempts_retries_failures_and_pending(
    tree: EvidenceLayout,
) -> None:
    counts = delivery_counts(tree.path(paths.DELIVERY_LOG))
    first, retried, failed, pending = DELIVERY_KINDS
    assert counts["mail"] == Counter({first: 12})
    assert counts["hook"] == Counter({first: 12, retried: 1, failed: 2, pending: 1})


def test_failover_counts_by_primary_and_the_providers_that_answered(tree: EvidenceLayout) -> None:
    by_primary, rescuers = failover_counts(tree.path(paths.ROUTER_FAILOVER))
    primary, rescued, lost = FAILOVER_KINDS
    assert by_primary["anthropic"] == Counter({rescued: 6, lost: 2})
    assert by_primary["openai"] == Counter({primary: 1})
    assert rescuers == Counter({"openai": 6})


def test_latency_charts_read_samples_only_never_the_statistic_rows(tree: EvidenceLayout) -> None:
    groups = state_samples(tree.path(paths.STATE_LATENCY))
    assert sorted(groups) == ["get", "ledger_append", "save"]
    assert all(len(v) == 40 for v in groups.values())
    loops = orchestration_samples(tree.path(paths.ORCHESTRATION_RUNS))
    assert loops == {"a": [40.0], "b": [55.0]}  # the warm-up run is left out
    delivered = notification_samples(tree.path(paths.DELIVERY_LOG))
    assert len(delivered["webhook"]) == 13 and len(delivered["email"]) == 12


def test_a_missing_file_leaves_its_chart_undrawn_with_the_reason_and_no_stale_png(
    tmp_path: Path,
) -> None:
    write_report_tree(tmp_path)
    lay = EvidenceLayout(tmp_path)
    render_charts(lay)
    assert lay.path("evidence/charts/delivery_attempts.png").is_file()
    lay.path(paths.DELIVERY_LOG).unlink()
    results = {r.spec.name: r for r in render_charts(lay)}
    assert not results["delivery_attempts"].drawn
    assert paths.DELIVERY_LOG in results["delivery_attempts"].reason
    assert not lay.path("evidence/charts/delivery_attempts.png").exists()
    assert results["budget_burn"].drawn


def test_a_file_that_gains_a_column_still_charts_and_one_that_loses_one_does_not(
    tmp_path: Path,
) -> None:
    write_report_tree(tmp_path)
    lay = EvidenceLayout(tmp_path)
    log = lay.path(paths.DELIVERY_LOG)
    lines = log.read_text().splitlines()
    log.write_text("\n".join([lines[0] + ",region"] + [line + ",eu" for line in lines[1:]]) + "\n")
    assert delivery_counts(log)["mail"][DELIVERY_KINDS[0]] == 12
    report = lay.path(paths.BUDGET_REPORT)
    report.write_text(report.read_text().replace("daily_cap_eur", "cap"))
    results = {r.spec.name: r for r in render_charts(lay)}
    assert results["delivery_attempts"].drawn
    assert not results["budget_burn"].drawn and "daily_cap_eur" in results["budget_burn"].reason


def test_an_unparsable_cell_is_an_evidence_error_naming_the_file(tmp_path: Path) -> None:
    write_report_tree(tmp_path)
    path = EvidenceLayout(tmp_path).path(paths.STATE_LATENCY)
    lines = path.read_text().splitlines()
    cells = lines[1].split(",")
    cells[2] = "fast"
    path.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    with pytest.raises(EvidenceError, match=r"state_cache_latency\.csv.*latency_ms"):
        state_samples(path)
