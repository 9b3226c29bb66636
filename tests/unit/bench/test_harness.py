"""The benchmark harness: repeated measurements report the median, the spread and every run."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from bench._harness import emit, repeat_median


def test_repeat_median_takes_the_middle_run_and_the_spread() -> None:
    values = iter([{"r": 1.4, "n": 3.0}, {"r": 0.9, "n": 3.0}, {"r": 1.1, "n": 3.0}])
    out = repeat_median(lambda: next(values), repeats=3)
    assert out["r"] == pytest.approx(1.1)
    assert out["r_spread"] == pytest.approx(0.5)
    assert out["r_runs"] == [1.4, 0.9, 1.1]
    assert out["n_spread"] == 0.0


def test_a_figure_missing_from_one_run_is_not_measured(capsys: pytest.CaptureFixture[str]) -> None:
    counter = itertools.count()
    out = repeat_median(lambda: {"r": 1.0} if next(counter) else {}, repeats=2)
    assert math.isnan(out["r"])
    emit(out)
    assert json.loads(capsys.readouterr().out)["r"] == "NOT_MEASURED"


def test_repeats_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        repeat_median(dict, repeats=0)
