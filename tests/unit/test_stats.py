import math

import pytest

from agent_platform.stats import WILSON_Z95, percentile, summarize, wilson_interval


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 95) == 10
    assert percentile([0, 100], 95) == 95


def test_percentile_of_nothing_is_nan_and_bad_q_is_refused() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match="within"):
        percentile([1.0], 101)


def test_summarize_reports_tail() -> None:
    stats = summarize([float(v) for v in range(1, 101)])
    assert stats["count"] == 100
    assert stats["max"] == 100
    assert stats["p99"] == pytest.approx(99.01)


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_published_values(k: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(k, n)
    assert got == (pytest.approx(low, abs=5e-5), pytest.approx(high, abs=5e-5))


def test_wilson_interval_of_all_successes_is_below_one_and_shrinks_with_n() -> None:
    small, large = wilson_interval(21, 21), wilson_interval(400, 400)
    assert small[1] == large[1] == 1.0
    assert small[0] == pytest.approx(21 / (21 + WILSON_Z95**2))
    assert small[0] < 0.99 < large[0]


def test_wilson_interval_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError, match="at least one trial"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match=r"within 0\.\.3"):
        wilson_interval(4, 3)


def test_percentile_is_the_pandas_and_numpy_default() -> None:
    import random

    import numpy as np
    import pandas as pd

    rng = random.Random(7)
    values = [rng.expovariate(1.0) for _ in range(257)]
    for q in (0, 1, 50, 95, 99, 100):
        assert percentile(values, q) == pytest.approx(pd.Series(values).quantile(q / 100))
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
