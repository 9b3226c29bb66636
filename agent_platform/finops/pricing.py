"""Prices in Decimal: what a request is estimated to cost and what it really cost, in EUR.

Estimates round up (a reservation never under-covers its own estimate); real costs round half
up to the micro-euro, the precision of the budget tables. The pinned rate used is returned with
every cost so each spend record can store it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from agent_platform.errors import InvalidInputError
from agent_platform.schemas.finops import FinOpsConfig
from agent_platform.schemas.routing import RoutingConfig

__all__ = ["MICRO", "Cost", "PriceBook"]

MICRO = Decimal("0.000001")
_THOUSAND = Decimal(1000)


@dataclass(frozen=True)
class Cost:
    """A cost in the provider's currency and in EUR, with the rate that converted it."""

    amount: Decimal
    currency: str
    rate_to_eur: Decimal
    amount_eur: Decimal


@dataclass(frozen=True)
class _ModelPrice:
    input_per_1k: Decimal
    output_per_1k: Decimal
    currency: str
    rate_to_eur: Decimal

    @property
    def estimate_per_token_eur(self) -> Decimal:
        """EUR per token at the higher of the two prices. Exact while the operands fit Decimal's
        28 digits (list prices and pinned rates do), so estimates equal the step-by-step sum."""
        return max(self.input_per_1k, self.output_per_1k) * self.rate_to_eur / _THOUSAND


class PriceBook:
    """Per-model prices of the routing config, converted with the FinOps pinned rates."""

    def __init__(self, routing: RoutingConfig, finops: FinOpsConfig) -> None:
        self._prices: dict[tuple[str, str], _ModelPrice] = {}
        self._per_token: dict[tuple[str, str], Decimal] = {}
        self._local: dict[str, bool] = {}
        for name, provider in routing.providers.items():
            self._local[name] = provider.local
            rate = finops.currency.rate(provider.currency)
            for model, price in provider.cost_per_1k_tokens.items():
                entry = _ModelPrice(
                    Decimal(str(price)),
                    Decimal(str(provider.output_price(model))),
                    provider.currency,
                    rate,
                )
                self._prices[(name, model)] = entry
                # Precomputed once: estimates are on the routing hot path.
                self._per_token[(name, model)] = entry.estimate_per_token_eur

    def is_local(self, provider: str) -> bool:
        """True for a provider that costs nothing (never blocked by money caps)."""
        self._require_provider(provider)
        return self._local[provider]

    def estimate_eur(self, provider: str, model: str, tokens: int) -> Decimal:
        """Upper estimate for ``tokens`` tokens: every token at the higher of the two prices."""
        per_token = self._per_token.get((provider, model))
        if per_token is None:  # unknown: _price raises the error naming what is allowed
            per_token = self._price(provider, model).estimate_per_token_eur
        return (tokens * per_token).quantize(MICRO, rounding=ROUND_CEILING)

    def require(self, provider: str, model: str) -> None:
        """Raise :class:`InvalidInputError` unless ``model`` of ``provider`` has a price."""
        if (provider, model) not in self._per_token:
            self._price(provider, model)

    def actual(self, provider: str, model: str, prompt_tokens: int, completion_tokens: int) -> Cost:
        """The real cost of a call from the usage the provider reported."""
        price = self._price(provider, model)
        amount = (
            Decimal(prompt_tokens) * price.input_per_1k
            + Decimal(completion_tokens) * price.output_per_1k
        ) / _THOUSAND
        amount_eur = (amount * price.rate_to_eur).quantize(MICRO, rounding=ROUND_HALF_UP)
        return Cost(
            amount.quantize(MICRO, rounding=ROUND_HALF_UP),
            price.currency,
            price.rate_to_eur,
            amount_eur,
        )

    def _require_provider(self, provider: str) -> None:
        if provider not in self._local:
            raise InvalidInputError(
                f"provider {provider!r} is unknown; allowed: {sorted(self._local)}"
            )

    def _price(self, provider: str, model: str) -> _ModelPrice:
        self._require_provider(provider)
        price = self._prices.get((provider, model))
        if price is None:
            known = sorted(m for (p, m) in self._prices if p == provider)
            raise InvalidInputError(
                f"model {model!r} is unknown for provider {provider}; allowed: {known}"
            )
        return price
