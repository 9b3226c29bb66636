"""Router evidence files: every figure is recomputed from the raw observations in the rows.

Routing accuracy is re-judged from each row's per-provider observations with the hindsight
yardstick (the stored ``correct`` and ``expected_provider`` only get compared); failover figures
are recomputed from each row's attempt outcomes (the stored booleans only get compared).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_platform.errors import EvidenceError
from agent_platform.evidence.formats import NOT_MEASURED
from agent_platform.evidence.formats.router import (
    FailoverOutcome,
    accuracy_figures,
    consistency,
    failover_figures,
    latency_figures,
    write_decisions,
    write_failover,
)
from tests.support.evidence import hindsight_decisions

ACCURACY = "metrics/quality/model_routing_accuracy.csv"


def _decisions(root: Path, right: int, wrong: int) -> tuple[Path, Path]:
    acc, lat = root / ACCURACY, root / "metrics/performance/model_router_latency.csv"
    acc.parent.mkdir(parents=True, exist_ok=True)
    lat.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        *hindsight_decisions("t", pick="anthropic", count=right),
        *hindsight_decisions("t", pick="openai", count=wrong),
    ]
    assert write_decisions(acc, lat, rows, "t") == (right + wrong, right + wrong)
    return acc, lat


def test_accuracy_comes_with_its_sample_size(tmp_path: Path) -> None:
    acc, lat = _decisions(tmp_path, 9, 1)
    figures = accuracy_figures(acc)
    assert figures["routing_accuracy"] == 0.9
    assert (figures["routing_accuracy__k"], figures["routing_accuracy__n"]) == (9, 10)
    assert consistency(acc, lat) == []
    latency = latency_figures(lat)
    assert latency["routing_decision_latency_p95_ms__n"] == 10


def test_an_edited_verdict_does_not_move_the_figure_and_is_reported(tmp_path: Path) -> None:
    acc, lat = _decisions(tmp_path, 9, 1)
    acc.write_text(acc.read_text().replace("openai,false", "openai,true"))
    assert accuracy_figures(acc)["routing_accuracy__k"] == 9
    assert any("the observations give correct=false" in p for p in consistency(acc, lat))


def test_an_edited_observation_moves_the_figure(tmp_path: Path) -> None:
    acc, _ = _decisions(tmp_path, 1, 0)
    text = acc.read_text()
    acc.write_text(text.replace("anthropic:ok:800.0000", "anthropic:ok:9000.0000"))
    assert accuracy_figures(acc)["routing_accuracy__k"] == 0


def test_a_row_without_observations_is_not_a_measurement(tmp_path: Path) -> None:
    acc, _ = _decisions(tmp_path, 1, 0)
    lines = acc.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("observed")] = ""
    acc.write_text("\n".join([lines[0], ",".join(cells)]) + "\n")
    with pytest.raises(EvidenceError, match="observed is empty"):
        accuracy_figures(acc)


def test_the_yardstick_beside_the_evidence_is_the_one_applied(tmp_path: Path) -> None:
    acc, _ = _decisions(tmp_path, 0, 1)
    assert accuracy_figures(acc)["routing_accuracy__k"] == 0
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs/routing_hindsight.yaml").write_text(
        "weights: {latency: 0.5, cost: 0.5}\ntie_tolerance: 0.5\n"
    )
    assert accuracy_figures(acc)["routing_accuracy__k"] == 0  # 0.367 vs 1.0: still a miss
    (tmp_path / "configs/routing_hindsight.yaml").write_text("weights: {latency: 2}\n")
    with pytest.raises(EvidenceError, match="cannot judge it in hindsight"):
        accuracy_figures(acc)


def _outcome(n: int, attempts: tuple[str, ...], **cells: object) -> FailoverOutcome:
    tried = tuple(a.split(":")[0] for a in attempts)
    answered = bool(attempts) and attempts[-1].endswith(":ok")
    values: dict[str, object] = {
        "timestamp": "t",
        "request_id": f"r{n}",
        "task_type": "coding",
        "primary_provider": tried[0] if tried else "",
        "primary_failed": not attempts or not attempts[0].endswith(":ok"),
        "providers_tried": tried,
        "attempts": len(attempts),
        "succeeded": answered,
        "final_provider": tried[-1] if answered else "",
        "latency_ms": 1.0,
        "error": "",
        "simulated": True,
        "attempt_outcomes": attempts,
        "incident": "openai=server_error",
        **cells,
    }
    return FailoverOutcome(**values)  # type: ignore[arg-type]


def test_failover_figures_are_recomputed_from_the_attempts(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    rows = [
        _outcome(0, ("openai:server_error", "anthropic:ok")),
        _outcome(1, ("openai:timeout", "anthropic:connection", "local:server_error")),
        _outcome(2, ("openai:ok",)),
        _outcome(3, ()),  # nothing could be called: a failed first attempt, not rescued
    ]
    assert write_failover(path, rows) == 4
    figures = failover_figures(path)
    assert (figures["failover_success_rate__k"], figures["failover_success_rate__n"]) == (1, 3)
    assert figures["failover_requests"] == 3
    assert (figures["request_success_rate__k"], figures["request_success_rate__n"]) == (2, 4)
    assert figures["failover_row_mismatches"] == "none"


def test_a_failover_row_whose_cells_contradict_its_attempts_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    rows = [_outcome(0, ("openai:server_error", "anthropic:reset"), succeeded=True)]
    write_failover(path, rows)
    figures = failover_figures(path)
    assert figures["failover_success_rate__k"] == 0  # the claimed success is not counted
    assert figures["failover_row_mismatches"] == "2"


def test_no_failover_event_is_not_measured(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    write_failover(path, [_outcome(0, ("openai:ok",))])
    assert failover_figures(path)["failover_success_rate"] == NOT_MEASURED


def test_a_malformed_attempt_is_an_evidence_error(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    write_failover(path, [_outcome(0, ("openai", "anthropic:ok"))])
    with pytest.raises(EvidenceError, match="not provider:outcome"):
        failover_figures(path)
