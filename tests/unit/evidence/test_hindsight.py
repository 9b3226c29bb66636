"""The hindsight yardstick ranks providers by what they did, with its own weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_platform.errors import ConfigError
from agent_platform.evidence.hindsight import (
    HindsightConfig,
    HindsightWeights,
    Observation,
    format_observations,
    judge,
    load_hindsight,
    parse_observations,
)

EVEN = HindsightConfig(weights=HindsightWeights(latency=0.5, cost=0.5), tie_tolerance=0.02)


def seen(name: str, latency: float, cost: float, *, ok: bool = True, floor: bool = True):
    return Observation(name, ok, latency, cost, floor)


def test_the_best_is_scored_relative_to_the_fastest_and_the_cheapest() -> None:
    observed = [seen("openai", 800, 0.02), seen("anthropic", 1200, 0.03)]
    verdict = judge(observed, "openai", EVEN)
    assert verdict.best == "openai" and verdict.correct
    assert verdict.scores == {"openai": 1.0, "anthropic": pytest.approx(0.5 * 2 / 3 + 0.5 * 2 / 3)}


def test_a_slow_cheap_provider_loses_to_a_fast_one_when_latency_outweighs_the_price() -> None:
    observed = [seen("openai", 4000, 0.02), seen("anthropic", 1200, 0.03)]
    verdict = judge(observed, "openai", EVEN)
    assert verdict.best == "anthropic" and not verdict.correct


def test_an_answer_comes_first_then_the_quality_floor() -> None:
    observed = [
        seen("openai", 100, 0.001, ok=False),
        seen("anthropic", 5000, 0.05),
        seen("local", 10, 0.0, floor=False),
    ]
    assert judge(observed, "anthropic", EVEN).best == "anthropic"
    assert not judge(observed, "openai", EVEN).correct  # it failed
    assert not judge(observed, "local", EVEN).correct  # below the floor while another answered
    alone = [seen("openai", 1, 0.1, ok=False), seen("local", 10, 0.0, floor=False)]
    assert judge(alone, "local", EVEN).best == "local"


def test_a_pick_within_the_tolerance_of_the_best_is_correct() -> None:
    observed = [seen("openai", 1000, 0.02), seen("anthropic", 1000 / 0.97, 0.02)]
    verdict = judge(observed, "anthropic", EVEN)
    assert verdict.best == "openai"
    assert verdict.scores["anthropic"] == pytest.approx(0.985)
    assert verdict.correct
    strict = EVEN.model_copy(update={"tie_tolerance": 0.01})
    assert not judge(observed, "anthropic", strict).correct


def test_nobody_answering_makes_no_pick_the_right_pick() -> None:
    down = [seen("openai", 800, 0.0, ok=False), seen("anthropic", 1200, 0.0, ok=False)]
    assert judge(down, None, EVEN).correct
    assert judge(down, None, EVEN).best is None
    assert not judge(down, "openai", EVEN).correct
    assert not judge([seen("openai", 800, 0.01)], None, EVEN).correct


def test_a_free_provider_takes_the_whole_cost_term() -> None:
    observed = [seen("local", 300, 0.0), seen("openai", 300, 0.001)]
    verdict = judge(observed, "local", EVEN)
    assert verdict.scores == {"local": 1.0, "openai": 0.5}


def test_observations_round_trip_through_their_csv_cell() -> None:
    observed = [seen("openai", 812.34567, 0.000123456789), seen("local", 3, 0.0, ok=False)]
    cell = format_observations(observed)
    assert cell == "openai:ok:812.3457:0.00012346:floor;local:failed:3.0000:0.00000000:floor"
    assert parse_observations(cell) == [
        seen("openai", 812.3457, 0.00012346),
        seen("local", 3.0, 0.0, ok=False),
    ]


@pytest.mark.parametrize(
    "cell",
    ["openai:ok:1:2", "openai:maybe:1:2:floor", "openai:ok:x:2:floor", "openai:ok:-1:2:floor",
     "openai:ok:inf:2:floor", "openai:ok:1:2:high"],
)  # fmt: skip
def test_a_malformed_observation_is_refused(cell: str) -> None:
    with pytest.raises(ValueError, match="observation"):
        parse_observations(cell)


def test_the_shipped_yardstick_loads() -> None:
    config = load_hindsight()
    assert config.weights.latency + config.weights.cost == pytest.approx(1.0)
    assert 0 <= config.tie_tolerance < 0.5


def test_weights_that_do_not_sum_to_one_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "h.yaml"
    path.write_text("weights: {latency: 0.7, cost: 0.7}\ntie_tolerance: 0.02\n")
    with pytest.raises(ConfigError, match=r"h\.yaml"):
        load_hindsight(path)
