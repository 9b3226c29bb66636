"""Scoring, health, endpoints, tokens and the routing/FinOps config cross-checks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from agent_platform.errors import ConfigError, ProviderError
from agent_platform.finops.config import load_finops
from agent_platform.models.config import load_residency, load_routing
from agent_platform.models.endpoints import build_endpoints, select_mode
from agent_platform.models.health import HealthTracker
from agent_platform.models.providers import classify_exception
from agent_platform.models.scoring import Candidate, rank
from agent_platform.models.tokens import count_text_tokens, count_tokens
from agent_platform.schemas.routing import Weights

ROOT = Path(__file__).resolve().parents[3]
WEIGHTS = Weights(cost=0.4, latency=0.3, accuracy=0.3)


def test_score_formula_and_preferred_provider_wins_ties() -> None:
    a = Candidate("a", "m", Decimal("0.02"), 800, 0.8)
    b = Candidate("b", "m", Decimal("0.04"), 400, 0.9)
    ranked = rank(WEIGHTS, [a, b], ["b"])
    scores = {s.provider: round(s.score, 6) for s in ranked}
    assert scores == {
        "a": round(0.4 * 0.5 + 0 + 0.3 * 0.8, 6),
        "b": round(0 + 0.3 * 0.5 + 0.3 * 0.9, 6),
    }
    twin = Candidate("c", "m", Decimal("0.02"), 800, 0.8)
    assert [s.provider for s in rank(WEIGHTS, [a, twin], ["c", "a"])] == ["c", "a"]
    free = rank(WEIGHTS, [Candidate("l", "m", Decimal(0), 300, 0.5)], [])
    assert free[0].cost_term == pytest.approx(0.4)


def test_health_cooldowns_honour_retry_after_and_the_threshold() -> None:
    clock = [100.0]
    health = HealthTracker(cooldown_s=30, failure_threshold=2, monotonic=lambda: clock[0])
    health.record_failure("p", ProviderError("p", "rate_limited", "429", 429, retry_after_s=4))
    assert health.cooldown_remaining("p") == 4
    clock[0] += 5
    assert health.available("p")
    health.record_failure("p", ProviderError("p", "server_error", "500", 500))
    assert health.available("p")
    health.record_failure("p", ProviderError("p", "timeout", "slow"))
    assert health.cooldown_remaining("p") == 30
    health.record_success("p", 12.0)
    health.record_success("p", 500.0)
    health.record_success("p", 14.0)
    assert health.available("p") and health.observed_latency_ms("p") == 14.0


def test_token_heuristic_is_four_characters_per_token() -> None:
    assert [count_tokens(t) for t in ("", "a", "abcd", "abcde")] == [0, 1, 1, 2]
    assert count_text_tokens(["abcde", "xyz"]) == 3


def test_mode_and_endpoints() -> None:
    routing, residency = load_routing(), load_residency()
    assert select_mode({}) == "simulator" and select_mode({"OPENAI_API_KEY": "k"}) == "live"
    sim = build_endpoints(routing, residency, mode="simulator", simulator_url="http://127.0.0.1:9")
    assert sim["anthropic"].api_base == "http://127.0.0.1:9/anthropic"
    assert sim["openai"].model_string("gpt-4o") == "openai/gpt-4o"
    assert sim["openai"].residency_endpoint == "https://eu.api.openai.com/v1"
    live = build_endpoints(routing, residency, mode="live", environ={"OPENAI_API_KEY": "k"})
    assert (
        live["openai"].api_base == "https://eu.api.openai.com/v1"
        and live["openai"].unavailable_reason is None
    )
    assert live["anthropic"].model_string("claude-3-5-sonnet-20241022").startswith("bedrock/")
    assert live["anthropic"].extra == {
        "aws_region_name": "eu-central-1",
        "aws_bedrock_runtime_endpoint": "https://bedrock-runtime.eu-central-1.amazonaws.com",
    }
    assert live["anthropic"].unavailable_reason == "no AWS credentials for the Bedrock route"
    local = build_endpoints(
        routing,
        residency,
        mode="live",
        environ={"AGENT_PLATFORM_LOCAL_LLM_BASE_URL": "http://localhost:11434/v1"},
    )
    assert (
        local["local"].api_base == local["local"].residency_endpoint == "http://localhost:11434/v1"
    )


def test_exception_classification() -> None:
    # asyncio.wait_for's TimeoutError is the adapter's hard bound on a call.
    assert classify_exception("p", TimeoutError("t")).kind == "timeout"
    assert classify_exception("p", ConnectionResetError("reset")).kind == "connection"

    class RateLimitError(Exception):
        status_code = 429
        litellm_response_headers: ClassVar[dict[str, str]] = {"retry-after": "3"}

    error = classify_exception("p", RateLimitError("slow down"))
    assert (error.kind, error.status, error.retry_after_s) == ("rate_limited", 429, 3.0)


def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_finops_cross_check_names_the_key(tmp_path: Path) -> None:
    routing = load_routing()
    data = yaml.safe_load((ROOT / "policies/finops.yaml").read_text())
    data["phases"][1]["providers"]["mistral"] = {"max_tokens": 10}
    with pytest.raises(ConfigError) as caught:
        load_finops(routing=routing, path=_write(tmp_path, "a.yaml", data))
    assert caught.value.key == "phases.1.providers.mistral"
    data = yaml.safe_load((ROOT / "policies/finops.yaml").read_text())
    data["phases"][1]["providers"]["openai"]["models"].append("gpt-5")
    with pytest.raises(ConfigError) as caught:
        load_finops(routing=routing, path=_write(tmp_path, "b.yaml", data))
    assert (
        caught.value.key == "phases.1.providers.openai.models.2" and caught.value.value == "gpt-5"
    )


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda d: d["phases"][2].update(daily_eur_cap=0), "phases.2.daily_eur_cap"),
        (lambda d: d["phases"][1].update(monthly_eur_cap=-5), "phases.1.monthly_eur_cap"),
        (lambda d: d.update(active_phase=4), "active_phase"),
        (lambda d: d.update(timezone="Mars/Olympus"), "timezone"),
        (lambda d: d.update(reservation_ttl_s=10), "reservation_ttl_s"),
        (lambda d: d["currency"].update(rates_to_eur={}), "currency.rates_to_eur.USD"),
    ],
)
def test_bad_finops_values_are_config_errors(tmp_path: Path, change, key: str) -> None:
    data = yaml.safe_load((ROOT / "policies/finops.yaml").read_text())
    change(data)
    with pytest.raises(ConfigError) as caught:
        load_finops(routing=load_routing(), path=_write(tmp_path, "f.yaml", data))
    assert caught.value.key == key


def test_bad_routing_values_are_config_errors(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "configs/model_routing.yaml").read_text())
    data["weights"]["cost"] = 0.9
    with pytest.raises(ConfigError, match=r"sum to 1\.0"):
        load_routing(path=_write(tmp_path, "r.yaml", data))
    data = yaml.safe_load((ROOT / "configs/model_routing.yaml").read_text())
    data["providers"]["openai"]["models"]["coding"] = "gpt-9"
    with pytest.raises(ConfigError, match="gpt-9"):
        load_routing(path=_write(tmp_path, "r2.yaml", data))


def test_shipped_configs_carry_the_seed_figures() -> None:
    routing = load_routing()
    finops = load_finops(routing=routing)
    caps = {n: (p.daily_eur_cap, p.monthly_eur_cap) for n, p in finops.phases.items()}
    assert caps == {1: (450, 12000), 2: (650, 16000), 3: (900, 22000)}
    assert finops.alerts.threshold_percent == 80
    assert (routing.weights.cost, routing.weights.latency, routing.weights.accuracy) == (
        0.4,
        0.3,
        0.3,
    )
    assert (
        routing.failover.max_retries,
        routing.failover.retry_delay_ms,
        routing.failover.fallback_provider,
    ) == (3, 500, "local")
