"""Schema of ``configs/model_routing.yaml``: weights, providers, task types, failover."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TaskType = Literal["planning", "coding", "review"]
TASK_TYPES: tuple[str, ...] = ("planning", "coding", "review")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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


class ProviderConfig(_Frozen):
    """One provider: which model serves each task, its price list and its API family."""

    api: Literal["openai", "anthropic", "openai_compatible"]
    models: dict[TaskType, str]
    base_latency_ms: float = Field(gt=0)
    cost_per_1k_tokens: dict[str, float]
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    accuracy: dict[TaskType, float] = Field(default_factory=dict)
    local: bool = False

    @field_validator("cost_per_1k_tokens")
    @classmethod
    def _non_negative_prices(cls, prices: dict[str, float]) -> dict[str, float]:
        for model, price in prices.items():
            if price < 0:
                raise ValueError(f"price of {model} must be >= 0 (got {price})")
        return prices

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
        return self


class TaskTypeConfig(_Frozen):
    preferred_provider: str
    fallback: str
    max_tokens: int = Field(gt=0)


class FailoverConfig(_Frozen):
    max_retries: int = Field(ge=0, le=10)
    retry_delay_ms: int = Field(ge=0)
    fallback_provider: str
    backoff_multiplier: float = Field(default=2.0, ge=1.0)
    request_timeout_s: float = Field(default=30.0, gt=0)
    cooldown_s: float = Field(default=30.0, ge=0)


class RoutingConfig(_Frozen):
    weights: Weights
    providers: dict[str, ProviderConfig]
    task_types: dict[TaskType, TaskTypeConfig]
    failover: FailoverConfig

    @model_validator(mode="after")
    def _references_exist(self) -> RoutingConfig:
        known = sorted(self.providers)
        for task, cfg in self.task_types.items():
            for ref in (cfg.preferred_provider, cfg.fallback):
                if ref not in self.providers:
                    raise ValueError(
                        f"task_types.{task} names unknown provider {ref!r}; known: {known}"
                    )
        if self.failover.fallback_provider not in self.providers:
            raise ValueError(
                f"failover.fallback_provider {self.failover.fallback_provider!r} unknown; known: {known}"
            )
        return self
