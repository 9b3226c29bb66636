"""Schema of ``configs/model_routing.yaml``: weights, providers, task types, failover.

Prices are per 1,000 tokens in the provider's declared ``currency``; conversion to EUR happens in
the FinOps layer with the pinned rate of ``policies/finops.yaml``. ``accuracy`` is a configured
prior per task (from the provider's published evaluations and our own review), not something the
router measures.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent_platform.config import config_value_error

__all__ = [
    "TASK_TYPES",
    "FailoverConfig",
    "ProviderConfig",
    "RoutingConfig",
    "TaskType",
    "TaskTypeConfig",
    "Weights",
]

TaskType = Literal["planning", "coding", "review"]
TASK_TYPES: tuple[str, ...] = ("planning", "coding", "review")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Weights(_Frozen):
    cost: float = Field(ge=0, le=1)
    latency: float = Field(ge=0, le=1)
    accuracy: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> Weights:
        total = self.cost + self.latency + self.accuracy
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"weights must sum to 1.0 (got {total:g})")
        return self


def _check_prices(prices: dict[str, float]) -> dict[str, float]:
    for model, price in prices.items():
        if price < 0:
            raise ValueError(f"price of {model} must be >= 0 (got {price})")
    return prices


class ProviderConfig(_Frozen):
    """One provider: which model serves each task, its price list and its API family.

    ``cost_per_1k_tokens`` prices prompt (input) tokens; ``output_cost_per_1k_tokens`` prices
    completion tokens and defaults to the input price of the model when a model is not listed.
    ``live_models`` maps a configured model to the model id of the vendor route actually used in
    live mode (for example the AWS Bedrock id of a Claude model); unlisted models keep their name.
    """

    api: Literal["openai", "anthropic", "openai_compatible"]
    models: dict[TaskType, str]
    base_latency_ms: float = Field(gt=0)
    cost_per_1k_tokens: dict[str, float]
    output_cost_per_1k_tokens: dict[str, float] = Field(default_factory=dict)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    accuracy: dict[TaskType, float] = Field(default_factory=dict)
    local: bool = False
    live_models: dict[str, str] = Field(default_factory=dict)

    @field_validator("cost_per_1k_tokens", "output_cost_per_1k_tokens")
    @classmethod
    def _non_negative_prices(cls, prices: dict[str, float]) -> dict[str, float]:
        return _check_prices(prices)

    @field_validator("accuracy")
    @classmethod
    def _unit_interval(cls, scores: dict[str, float]) -> dict[str, float]:
        for task, score in scores.items():
            if not 0 <= score <= 1:
                raise ValueError(f"accuracy of {task} must be within [0, 1] (got {score})")
        return scores

    @model_validator(mode="after")
    def _every_model_priced(self) -> ProviderConfig:
        for task, model in self.models.items():
            if model not in self.cost_per_1k_tokens:
                raise ValueError(f"model {model!r} (task {task}) has no cost_per_1k_tokens entry")
        for model in self.output_cost_per_1k_tokens:
            if model not in self.cost_per_1k_tokens:
                raise ValueError(
                    f"output_cost_per_1k_tokens names {model!r}, which has no cost_per_1k_tokens"
                )
        if self.local and any(p > 0 for p in self.cost_per_1k_tokens.values()):
            raise ValueError("a local provider costs nothing: its prices must be 0")
        return self

    def output_price(self, model: str) -> float:
        """The completion-token price of ``model`` per 1k tokens."""
        return self.output_cost_per_1k_tokens.get(model, self.cost_per_1k_tokens[model])

    def accuracy_for(self, task: str) -> float:
        """The configured accuracy prior for ``task`` (0.5, neutral, when not configured)."""
        return float(self.accuracy.get(task, 0.5))  # type: ignore[call-overload]


class TaskTypeConfig(_Frozen):
    """One task type: its failover chain head, the per-request token limit and a quality floor.

    A provider whose accuracy prior for the task is below ``min_accuracy`` is not a scored
    candidate; it is still called when the failover chain names it explicitly (``fallback`` or
    ``failover.fallback_provider``), as a last resort.
    """

    preferred_provider: str
    fallback: str
    max_tokens: int = Field(gt=0)
    min_accuracy: float = Field(default=0.0, ge=0, le=1)


class FailoverConfig(_Frozen):
    """Bounded retries: ``max_retries`` attempts after the first, backoff on re-tries of a
    provider already tried in the same request, cooldown after ``failure_threshold``
    consecutive failures (or for Retry-After seconds on a 429)."""

    max_retries: int = Field(ge=0, le=10)
    retry_delay_ms: int = Field(ge=0)
    fallback_provider: str
    backoff_multiplier: float = Field(default=2.0, ge=1.0)
    jitter: float = Field(default=0.2, ge=0, le=1)
    request_timeout_s: float = Field(default=30.0, gt=0)
    cooldown_s: float = Field(default=30.0, ge=0)
    failure_threshold: int = Field(default=2, ge=1)


class RoutingConfig(_Frozen):
    weights: Weights
    providers: dict[str, ProviderConfig]
    task_types: dict[TaskType, TaskTypeConfig]
    failover: FailoverConfig

    @model_validator(mode="after")
    def _references_exist(self) -> RoutingConfig:
        """Every task type is defined, every provider serves every task type, and every
        provider a task type or the failover names is defined under ``providers``.

        Errors name the exact key (``task_types.coding.fallback``), not the whole file.
        """
        for task in TASK_TYPES:
            if task not in self.task_types:
                raise config_value_error(
                    ("task_types", task), None, f"a definition for every task type {TASK_TYPES}"
                )
        for name, provider in self.providers.items():
            for task in TASK_TYPES:
                if task not in provider.models:
                    raise config_value_error(
                        ("providers", name, "models", task),
                        None,
                        f"a model for every task type {TASK_TYPES}",
                    )
        allowed = "one of the providers defined under providers: " + ", ".join(
            sorted(self.providers)
        )
        for task, cfg in self.task_types.items():
            for field in ("preferred_provider", "fallback"):
                ref = getattr(cfg, field)
                if ref not in self.providers:
                    raise config_value_error(("task_types", task, field), ref, allowed)
        if self.failover.fallback_provider not in self.providers:
            raise config_value_error(
                ("failover", "fallback_provider"), self.failover.fallback_provider, allowed
            )
        return self
