"""Schema of ``policies/finops.yaml``: phase caps, token ceilings, alerts, currency rates.

Money is :class:`~decimal.Decimal` from the moment it is loaded, so no cap or rate ever passes
through binary floating point on its way into the budget arithmetic.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent_platform.config import config_value_error

__all__ = [
    "AlertChannel",
    "AlertsConfig",
    "CurrencyConfig",
    "FinOpsConfig",
    "PhaseBudget",
    "ProviderLimits",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ProviderLimits(_Frozen):
    """A provider's token ceiling per ``token_window`` and the models allowed in the phase.

    ``models`` None allows every model the routing config gives the provider.
    """

    max_tokens: int = Field(gt=0)
    models: list[str] | None = None


class PhaseBudget(_Frozen):
    daily_eur_cap: Decimal = Field(gt=0, decimal_places=6)
    monthly_eur_cap: Decimal = Field(gt=0, decimal_places=6)
    providers: dict[str, ProviderLimits]

    @model_validator(mode="after")
    def _daily_within_monthly(self) -> PhaseBudget:
        if self.daily_eur_cap > self.monthly_eur_cap:
            raise ValueError(
                f"daily_eur_cap {self.daily_eur_cap} exceeds monthly_eur_cap {self.monthly_eur_cap}"
            )
        return self


class AlertChannel(_Frozen):
    type: Literal["slack", "email", "webhook"]
    destination: str = Field(min_length=1)


class AlertsConfig(_Frozen):
    threshold_percent: Decimal = Field(gt=0, lt=100)
    forecast: bool = True
    forecast_min_elapsed_hours: float = Field(default=24.0, ge=0)
    channels: list[AlertChannel] = Field(default_factory=list)


class CurrencyConfig(_Frozen):
    """Pinned conversion rates: 1 unit of the key currency is worth ``rate`` EUR."""

    rates_to_eur: dict[str, Decimal]
    pinned_on: date

    @field_validator("rates_to_eur")
    @classmethod
    def _positive(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        for code, rate in rates.items():
            if rate <= 0:
                raise ValueError(f"rate for {code} must be > 0 (got {rate})")
        return rates

    def rate(self, currency: str) -> Decimal:
        """EUR per unit of ``currency`` (EUR itself is 1)."""
        if currency == "EUR":
            return self.rates_to_eur.get("EUR", Decimal(1))
        return self.rates_to_eur[currency]


class FinOpsConfig(_Frozen):
    active_phase: int = 1
    timezone: str = "Europe/Berlin"
    token_window: Literal["minute", "hour", "day"] = "minute"
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

    @model_validator(mode="after")
    def _active_phase_exists(self) -> FinOpsConfig:
        """``active_phase`` names a phase of ``phases`` (the error names that key)."""
        if self.active_phase not in self.phases:
            allowed = "one of the phases defined under phases: " + ", ".join(
                str(number) for number in sorted(self.phases)
            )
            raise config_value_error(("active_phase",), self.active_phase, allowed)
        return self

    def phase(self, number: int | None = None) -> PhaseBudget:
        """The budget of ``number`` (default: the active phase)."""
        key = self.active_phase if number is None else number
        return self.phases[key]
