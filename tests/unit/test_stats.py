import math

import pytest

from agent_platform.stats import percentile, summarize


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
