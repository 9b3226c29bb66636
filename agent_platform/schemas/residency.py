"""Schema of ``configs/vendor_residency.yaml``: where each vendor's endpoint lives.

Only ``vendors:`` and ``enforcement:`` are required (the specification's own format); the EU
regions and EU-pinned hosts the decision uses are product knowledge
(:mod:`agent_platform.compliance.vendors`), which an optional ``policy:`` section extends or
replaces.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent_platform.config import config_value_error

__all__ = ["Enforcement", "ResidencyConfig", "ResidencyPolicy", "VendorResidency"]

_ON_PREMISE_REGION = "on-premise"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VendorResidency(_Frozen):
    """One vendor. ``region: on-premise`` (or ``on_premise: true``) marks our own hardware."""

    region: str = Field(min_length=1)
    endpoint: str = Field(min_length=1)
    data_retention: bool | str
    training_data_opt_out: bool
    logging_enabled: bool
    compliance: list[str] = Field(default_factory=list)
    on_premise: bool = False

    @model_validator(mode="after")
    def _on_premise_region(self) -> VendorResidency:
        if self.on_premise and self.region != _ON_PREMISE_REGION:
            raise config_value_error(
                ("region",), self.region, f"{_ON_PREMISE_REGION!r} for an on_premise vendor"
            )
        return self

    @property
    def is_on_premise(self) -> bool:
        return self.on_premise or self.region == _ON_PREMISE_REGION


class Enforcement(_Frozen):
    block_non_eu_requests: bool
    alert_on_violation: bool = True
    log_all_requests: bool = True


class ResidencyPolicy(_Frozen):
    """Additions to (``defaults: extend``) or replacements of (``replace``) the built-in
    EU regions and EU-pinned hosts."""

    defaults: Literal["extend", "replace"] = "extend"
    eu_regions: list[str] = Field(default_factory=list)
    eu_pinned_hosts: dict[str, list[str]] = Field(default_factory=dict)
    allow_logging_for_on_premise: bool = True


class ResidencyConfig(_Frozen):
    vendors: dict[str, VendorResidency]
    enforcement: Enforcement
    policy: ResidencyPolicy = Field(default_factory=ResidencyPolicy)
