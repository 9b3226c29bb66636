"""A threshold is judged on what the sample supports: a rate by its Wilson bound and its n."""

from typing import Any

import pytest

from agent_platform.evidence.contract_model import Threshold
from agent_platform.evidence.judge import judge, sample_size, substitutes


def _rule(op: str, value: float, statistic: str = "rate", **extra: Any) -> Threshold:
    return Threshold(
        subsystem="router",
        figure="failover_success_rate",
        op=op,  # type: ignore[arg-type]
        value=value,
        unit="",
        seed="test",
        kind="deterministic",
        statistic=statistic,  # type: ignore[arg-type]
        **extra,
    )


def test_a_perfect_rate_on_a_small_sample_fails_a_99_percent_threshold() -> None:
    entry = judge(_rule(">=", 0.99), {"failover_success_rate": 1.0, "failover_requests": 21}, {})
    assert entry["verdict"] == "FAIL"
    assert (entry["k"], entry["n"]) == (21, 21)
    assert entry["interval"][0] == pytest.approx(0.8454, abs=1e-4)
    assert entry["judged_on"] == "interval lower bound"


def test_the_same_rate_passes_once_the_lower_bound_clears_the_threshold() -> None:
    figures = {
        "failover_success_rate": 1.0,
        "failover_success_rate__k": 400,
        "failover_success_rate__n": 400,
    }
    entry = judge(_rule(">=", 0.99), figures, {})
    assert entry["verdict"] == "PASS"
    assert entry["interval"] == [0.990488, 1.0]


def test_an_upper_threshold_is_judged_on_the_upper_bound() -> None:
    figures = {
        "failover_success_rate": 0.005,
        "failover_success_rate__k": 1,
        "failover_success_rate__n": 200,
    }
    assert judge(_rule("<=", 0.01), figures, {})["verdict"] == "FAIL"
    figures.update(
        failover_success_rate=0.001, failover_success_rate__k=2, failover_success_rate__n=2000
    )
    entry = judge(_rule("<=", 0.01), figures, {})
    assert (entry["verdict"], entry["judged_on"]) == ("PASS", "interval upper bound")


def test_a_hundred_percent_threshold_is_a_claim_about_every_trial() -> None:
    ok = judge(_rule(">=", 1.0), {"failover_success_rate": 1.0, "failover_requests": 3}, {})
    assert (ok["verdict"], ok["judged_on"]) == ("PASS", "every trial")
    one_short = {
        "failover_success_rate": 0.999,
        "failover_success_rate__k": 999,
        "failover_success_rate__n": 1000,
    }
    assert judge(_rule(">=", 1.0), one_short, {})["verdict"] == "FAIL"


def test_a_rate_without_its_n_fails_rather_than_passing_on_the_point_value() -> None:
    entry = judge(_rule(">=", 0.5), {"failover_success_rate": 1.0}, {})
    assert entry["verdict"] == "FAIL"
    assert "without its n" in entry["problem"]


def test_a_rate_that_is_not_its_own_k_over_n_fails() -> None:
    figures = {
        "failover_success_rate": 1.0,
        "failover_success_rate__k": 300,
        "failover_success_rate__n": 400,
    }
    entry = judge(_rule(">=", 0.5), figures, {})
    assert (entry["verdict"], entry["problem"]) == ("FAIL", "value 1.0 is not k/n = 300/400")


def test_an_unmeasured_rate_is_not_measured() -> None:
    assert judge(_rule(">=", 0.5), {"failover_success_rate": "NOT_MEASURED"}, {})["verdict"] == (
        "NOT_MEASURED"
    )


def test_a_percentile_reports_its_n_and_is_judged_on_its_value() -> None:
    rule = _rule("<", 50, "percentile")
    entry = judge(rule, {"failover_success_rate": 4.0, "failover_success_rate__n": 800}, {})
    assert (entry["verdict"], entry["n"], entry["judged_on"]) == ("PASS", 800, "value")
    assert "interval" not in entry


def test_legacy_counts_stand_in_for_a_missing_n() -> None:
    assert sample_size({"get_samples": 2000}, "cache_hit_ratio") == (None, 2000)
    assert sample_size({"scenarios_run": 12, "unscripted_runs": 1}, "scenario_conformance") == (
        None,
        11,
    )
    assert sample_size({"x__k": 3, "x__n": 4, "get_samples": 9}, "x") == (3, 4)


def test_a_threshold_met_on_a_substitute_backend_is_labelled() -> None:
    rule = _rule(">=", 0.5, written_for=("postgresql",))
    figures = {"failover_success_rate": 1.0, "failover_requests": 50}
    entry = judge(
        rule, figures, {"database": "sqlite", "providers_simulated": True, "profile": "x.yaml"}
    )
    assert entry["met_on_substitute"] == "sqlite for postgresql"
    assert entry["backend"] == {"database": "sqlite", "providers": "simulated"}
    assert entry["written_for"] == ["postgresql"]
    on_target = judge(rule, figures, {"database": "postgresql"})
    assert "met_on_substitute" not in on_target
    assert substitutes(("redis",), {"cache": "memory"}) == "in-process cache for redis"
    assert (
        substitutes(("postgresql", "redis"), {"database": "postgresql", "budget_store": "redis"})
        is None
    )
    failing = judge(_rule(">=", 0.99, written_for=("postgresql",)), figures, {"database": "sqlite"})
    assert failing["measured_on_substitute"] == "sqlite for postgresql"
