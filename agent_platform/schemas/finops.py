"""Schema of ``policies/finops.yaml``: phase caps, token ceilings, alerts, currency rates."""

from __future__ import annotations

from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProviderLimits(_Frozen):
    max_tokens: int = Field(gt=0)
    models: list[str] | None = None


class PhaseBudget(_Frozen):
    daily_eur_cap: float = Field(gt=0)
    monthly_eur_cap: float = Field(gt=0)
    providers: dict[str, ProviderLimits]


class AlertChannel(_Frozen):
    type: Literal["slack", "email", "webhook"]
    destination: str = Field(min_length=1)


class AlertsConfig(_Frozen):
    threshold_percent: float = Field(gt=0, lt=100)
    forecast: bool = True
    channels: list[AlertChannel] = Field(default_factory=list)


class CurrencyConfig(_Frozen):
    """Pinned conversion rates: 1 unit of the key currency is worth ``rate`` EUR."""

    rates_to_eur: dict[str, float]
    pinned_on: date

    @field_validator("rates_to_eur")
    @classmethod
    def _positive(cls, rates: dict[str, float]) -> dict[str, float]:
        for code, rate in rates.items():
            if rate <= 0:
                raise ValueError(f"rate for {code} must be > 0 (got {rate})")
        return rates


class FinOpsConfig(_Frozen):
    active_phase: int = 1
    timezone: str = "Europe/Berlin"
    reservation_ttl_s: float = Field(default=120.0, gt=0)
    phases: dict[int, PhaseBudget]
    alerts: AlertsConfig
    currency: CurrencyConfig

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {name!r}") from exc
        return name

    def phase(self, number: int | None = None) -> PhaseBudget:
        """The budget of ``number`` (default: the active phase)."""
        key = self.active_phase if number is None else number
        return self.phases[key]
