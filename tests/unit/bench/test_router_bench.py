"""The routed-call figures of bench.router: the rotation of the arms and what overhead means."""

from __future__ import annotations

import asyncio

import pytest

from bench.router import cpu_figures, routed_figures, time_rounds


def test_rounds_call_every_arm_once_in_a_rotating_order() -> None:
    calls: list[str] = []

    def arm(name: str):  # type: ignore[no-untyped-def]
        async def call() -> None:
            calls.append(name)

        return call

    arms = {name: arm(name) for name in ("a", "b", "c")}
    samples = asyncio.run(time_rounds(arms, rounds=3, warmup=1))
    assert calls == ["a", "b", "c", "a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert {name: len(values) for name, values in samples.items()} == {"a": 3, "b": 3, "c": 3}


def test_overhead_is_the_p95_of_each_rounds_difference_not_of_the_p95s() -> None:
    rounds = 100
    raw = [1.0] * rounds
    raw[7] = 50.0  # a slow moment of the machine hits both calls of round 7
    ours = [r + 2.0 for r in raw]
    ours[3] = 9.0  # one round where our call alone was slow: overhead 8 ms
    theirs = [4.0] * rounds
    figures = routed_figures({"ours": ours, "litellm_router": theirs, "raw_post": raw})
    assert figures["routed_call_overhead_p50_ms"] == pytest.approx(2.0)
    assert figures["routed_call_overhead_p95_ms"] == pytest.approx(2.0)
    assert figures["routed_call_p95_ms"] == pytest.approx(3.0)
    assert figures["routed_call_p95_ratio_vs_litellm_router"] == pytest.approx(0.75)
    spiky = [2.0] * rounds
    for index in range(10):
        spiky[index] = 12.0  # 10 % of rounds 10 ms slower than the raw POST beside them
    worse = routed_figures({"ours": [r + s for r, s in zip(raw, spiky, strict=True)],
                            "litellm_router": theirs, "raw_post": raw})  # fmt: skip
    assert worse["routed_call_overhead_p95_ms"] == pytest.approx(12.0)


def test_the_overhead_splits_into_litellm_and_our_layer_round_by_round() -> None:
    raw = [1.0 + (i % 5) for i in range(100)]  # the machine's pace moves every round
    bare = [r + 3.0 for r in raw]
    ours = [b + 0.5 for b in bare]
    samples = {"ours": ours, "litellm_router": bare, "raw_post": raw, "litellm_acompletion": bare}
    figures = routed_figures(samples)
    assert figures["litellm_acompletion_overhead_p95_ms"] == pytest.approx(3.0)
    assert figures["routing_layer_overhead_p95_ms"] == pytest.approx(0.5)
    assert figures["routed_call_overhead_p95_ms"] == pytest.approx(3.5)
    assert "litellm_acompletion_p95_ms" not in routed_figures(
        {key: samples[key] for key in ("ours", "litellm_router", "raw_post")}
    )


def test_cpu_figures_are_means_per_call_and_their_ratio() -> None:
    cpu = {"ours": [4.0, 6.0], "litellm_router": [10.0, 10.0], "raw_post": [1.0, 2.0]}
    figures = cpu_figures(cpu)
    assert figures["ours_cpu_ms_mean"] == pytest.approx(5.0)
    assert figures["raw_post_cpu_ms_mean"] == pytest.approx(1.5)
    assert figures["routed_call_cpu_ratio_vs_litellm_router"] == pytest.approx(0.5)


def test_rounds_record_each_calls_cpu_time_when_asked() -> None:
    async def busy() -> None:
        sum(range(20000))

    cpu: dict[str, list[float]] = {}
    asyncio.run(time_rounds({"busy": busy}, rounds=4, warmup=0, cpu=cpu))
    assert len(cpu["busy"]) == 4 and min(cpu["busy"]) > 0.0  # a busy call costs CPU


def test_the_adapters_call_splits_the_overhead_into_transport_and_budget() -> None:
    raw = [2.0 + (i % 7) for i in range(100)]
    adapter = [r - 0.25 for r in raw]  # a transport cheaper than the httpx client
    ours = [a + 1.0 for a in adapter]  # decision, reservation, commit, spend row
    theirs = [r + 5.0 for r in raw]
    samples = {"ours": ours, "litellm_router": theirs, "raw_post": raw, "adapter_call": adapter}
    figures = routed_figures(samples)
    assert figures["adapter_call_overhead_p50_ms"] == pytest.approx(-0.25)
    assert figures["budget_and_decision_overhead_p95_ms"] == pytest.approx(1.0)
    assert figures["routed_call_overhead_p95_ms"] == pytest.approx(0.75)
    assert "routing_layer_overhead_p95_ms" not in figures  # no litellm arm in these samples
