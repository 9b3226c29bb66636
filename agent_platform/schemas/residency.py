"""Schema of ``configs/vendor_residency.yaml``: where each vendor's endpoint lives."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VendorResidency(_Frozen):
    region: str = Field(min_length=1)
    endpoint: str = Field(min_length=1)
    data_retention: bool | str
    training_data_opt_out: bool
    logging_enabled: bool
    compliance: list[str] = Field(default_factory=list)
    on_premise: bool = False


class Enforcement(_Frozen):
    block_non_eu_requests: bool
    alert_on_violation: bool = True
    log_all_requests: bool = True


class ResidencyPolicy(_Frozen):
    """The allow-lists the residency decision uses."""

    eu_regions: list[str]
    eu_pinned_hosts: dict[str, list[str]]
    allow_logging_for_on_premise: bool = True


class ResidencyConfig(_Frozen):
    vendors: dict[str, VendorResidency]
    enforcement: Enforcement
    policy: ResidencyPolicy
