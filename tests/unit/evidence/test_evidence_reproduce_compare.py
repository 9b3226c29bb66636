"""How a reproduced figure is compared with the recorded one (no workload runs here)."""

from typing import Any

import pytest

from agent_platform.config import project_root
from agent_platform.evidence import reproduce
from agent_platform.evidence.contract_model import load_contract
from agent_platform.evidence.reproduce import compare, evidence_command, recorded_scale

CONTRACT = load_contract(project_root() / "contracts/phase_1_core_architecture.contract.json")
BACKEND = {"cache": "memory", "database": "sqlite"}


def _entry(value: Any, n: int = 800, verdict: str = "PASS", **extra: Any) -> dict[str, Any]:
    return {"value": value, "n": n, "verdict": verdict, "backend": BACKEND, **extra}


def _judged(**changes: dict[str, Any]) -> dict[str, Any]:
    base = {
        "get_latency_p95_ms": _entry(0.05),
        "save_latency_p95_ms": _entry(3.0, n=80),
        "cache_hit_ratio": _entry(0.95),
        "ledger_append_latency_p95_ms": _entry(4.0, n=80),
        "hit_ratio_vs_ideal": _entry(1.0),
    }
    return {**base, **changes}


def _verdicts(recorded: dict[str, Any], fresh: dict[str, Any]) -> dict[str, str]:
    gate = {"subsystems": {"state_fabric": {"judged": recorded}}}
    found = compare(CONTRACT, gate, {"state_fabric": {"judged": fresh}})
    return {c.figure: c.detail for c in found if not c.passed}


def test_equal_deterministic_and_close_timed_figures_reproduce() -> None:
    fresh = _judged(get_latency_p95_ms=_entry(0.09), save_latency_p95_ms=_entry(2.0, n=81))
    assert _verdicts(_judged(), fresh) == {}


def test_a_deterministic_figure_that_moves_at_all_is_a_mismatch() -> None:
    assert _verdicts(_judged(), _judged(cache_hit_ratio=_entry(0.949999))) == {
        "cache_hit_ratio": "deterministic: must be equal"
    }


def test_a_timed_figure_far_from_its_record_or_failing_again_is_a_mismatch() -> None:
    far = _verdicts(_judged(get_latency_p95_ms=_entry(0.001)), _judged())
    assert far == {"get_latency_p95_ms": "not within a factor 5 of the recorded value"}
    failing = _verdicts(_judged(), _judged(save_latency_p95_ms=_entry(3.5, n=80, verdict="FAIL")))
    assert failing == {"save_latency_p95_ms": "does not pass save_latency_p95_ms < 120 ms again"}


def test_another_n_or_another_backend_is_a_mismatch() -> None:
    moved = _judged(
        cache_hit_ratio=_entry(0.95, n=801),
        get_latency_p95_ms={**_entry(0.05), "backend": {"cache": "redis", "database": "sqlite"}},
    )
    found = _verdicts(_judged(), moved)
    assert found["cache_hit_ratio"] == "n 800 vs 801"
    assert found["get_latency_p95_ms"].startswith("backend {'cache': 'memory'")


def test_a_gate_without_judged_entries_cannot_be_reproduced_against() -> None:
    gate = {"subsystems": {"state_fabric": {"figures": {"cache_hit_ratio": 0.95}}}}
    found = compare(CONTRACT, gate, {"state_fabric": {"judged": _judged()}})
    assert {c.detail for c in found} == {"the gate has no judged entry for this figure"}
    assert not any(c.passed for c in found)


def test_the_recorded_scale_and_the_command_run_in_the_scratch_checkout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reproduce.shutil, "which", lambda name: f"/opt/bin/{name}")
    assert (
        recorded_scale({"workload_sizes": {"a": {"scale": "reduced"}, "b": {"scale": "reduced"}}})
        == "reduced"
    )
    full = evidence_command("full", None)
    assert full[0] == "/opt/bin/uv"
    assert full[1:] == [
        "run",
        "--frozen",
        "agent-platform",
        "gate",
        "--no-validate",
        "--scale",
        "full",
    ]
    one = evidence_command("reduced", "packages")
    assert one[1:7] == ["run", "--frozen", "dagster", "asset", "materialize", "-m"]
    assert one[one.index("--select") + 1] == "key:pkg_reality_report"
    assert evidence_command("reduced", "router")[one.index("--select") + 1] == "group:router"


def test_a_figure_the_reproduction_did_not_judge_is_a_mismatch() -> None:
    fresh = _judged()
    del fresh["hit_ratio_vs_ideal"]
    gate = {"subsystems": {"state_fabric": {"judged": _judged()}}}
    found = {c.figure: c for c in compare(CONTRACT, gate, {"state_fabric": {"judged": fresh}})}
    assert not found["hit_ratio_vs_ideal"].passed
    assert "no judged entry" in found["hit_ratio_vs_ideal"].detail
