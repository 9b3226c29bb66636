"""Schema of ``contracts/phase_1_core_architecture.contract.json`` and the threshold rules.

The contract is the single source of truth for what the phase must deliver and for every
metric threshold: the asset checks, the gate and the validator all read their thresholds
through :func:`load_contract`, so no number is repeated in code.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent_platform.config import translate_validation_error
from agent_platform.errors import ConfigError, InputFileError
from agent_platform.inputs import (
    DEFAULT_LIMIT_BYTES,
    JSON_MAX_DEPTH,
    DuplicateKeyError,
    json_depth,
    read_text_bounded,
    shorten,
    unique_object,
)

__all__ = [
    "Contract",
    "CrossFileCheck",
    "Deliverable",
    "ForbiddenPatterns",
    "Reproduction",
    "Threshold",
    "Tolerance",
    "load_contract",
    "meets",
]

Op = Literal["<", "<=", ">", ">=", "=="]
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Range(_Frozen):
    min: int = Field(ge=0)
    max: int | None = None


class Deliverable(_Frozen):
    """One seed deliverable at its path here.

    ``implementation`` names the library modules that, with ``path`` itself, make up the
    component the seed's line range describes (a thin CLI over the library, as DESIGN.md
    mandates); lines are then counted over ``path`` plus those modules, and ``deviation`` must
    say why. The required patterns are always checked on ``path`` itself.
    """

    id: int
    path: str
    category: str
    seed_path: str
    lines: Range | None = None
    rows: Range | None = None
    required_patterns: list[str] = Field(default_factory=list)
    required_sections: list[str] = Field(default_factory=list)
    generated: bool = False
    implementation: list[str] = Field(default_factory=list)
    deviation: str | None = None

    @model_validator(mode="after")
    def _deviation_explains_implementation(self) -> Deliverable:
        if self.implementation and not (self.deviation or "").strip():
            raise ValueError(
                f"deliverable {self.path}: 'implementation' counts lines over other files; "
                "a 'deviation' note must say why"
            )
        return self

    @property
    def counted_paths(self) -> list[str]:
        """The files whose lines are counted against the range (``path`` first)."""
        return [self.path, *(p for p in self.implementation if p != self.path)]


class ForbiddenPatterns(_Frozen):
    markers: list[str]
    placeholder_phrases: list[str] = Field(default_factory=list)
    stub_bodies: bool = True
    scan: list[str]
    exclude: list[str] = Field(default_factory=list)


class CrossFileCheck(_Frozen):
    id: str
    description: str
    files: dict[str, str] = Field(default_factory=dict)
    pairs: list[dict[str, str]] = Field(default_factory=list)
    phase: int | None = None
    required: list[str] = Field(default_factory=list)


class Threshold(_Frozen):
    """One figure's threshold.

    ``kind`` says how a reproduction is judged: ``deterministic`` figures follow from the
    recorded seeds and config and must reproduce exactly; ``timed`` ones are measured on a
    machine and must pass again within the contract's tolerance. ``written_for`` names the
    backends the seed wrote the threshold for (e.g. ``redis``, ``postgresql``): met on a
    substitute backend, the figure is labelled so. ``statistic`` says how the figure is
    judged (:mod:`agent_platform.evidence.judge`): a ``rate`` by its Wilson interval's bound
    with its ``n``, a ``percentile`` on its value with its ``n`` reported, a ``count`` or a
    ``value`` on the value itself.
    """

    subsystem: str
    figure: str
    op: Op
    value: float
    unit: str
    seed: str
    kind: Literal["deterministic", "timed"] | None = None
    written_for: tuple[str, ...] = ()
    statistic: Literal["rate", "percentile", "count", "value"] = "value"

    def describe(self) -> str:
        return f"{self.figure} {self.op} {self.value:g} {self.unit}".rstrip()


class GateSpec(_Frozen):
    """Where the gate JSON lives, what it must say, and how much clock slack a sample's
    timestamp may have outside its workload's recorded window."""

    path: str
    required_status: Literal["PASS"]
    validation_report: str
    clock_slack_seconds: float = Field(default=2.0, ge=0)


class Tolerance(_Frozen):
    """How far a timed figure may move on reproduction: within a ``factor`` of the recorded
    value (``recorded / factor <= reproduced <= recorded * factor``) or within an ``absolute``
    difference."""

    factor: float | None = Field(default=None, gt=1)
    absolute: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_rule(self) -> Tolerance:
        if (self.factor is None) == (self.absolute is None):
            raise ValueError("a tolerance gives exactly one of 'factor' or 'absolute'")
        return self

    def holds(self, recorded: float, reproduced: float) -> bool:
        if self.factor is not None:
            return recorded / self.factor <= reproduced <= recorded * self.factor
        return abs(reproduced - recorded) <= (self.absolute or 0.0) + 1e-12  # float rounding

    def describe(self) -> str:
        return f"within a factor {self.factor:g}" if self.factor else f"within ±{self.absolute:g}"


class Reproduction(_Frozen):
    """How ``validate_contract.py --reproduce`` judges a re-run: deterministic figures (and
    their ``n``) must be equal; a timed figure must pass its threshold again and
    lie within the tolerance of its unit (``timed_tolerance`` keyed by the threshold's unit,
    ``""`` for ratios)."""

    description: str = ""
    timed_tolerance: dict[str, Tolerance]
    timeout_seconds: int = Field(default=900, ge=60)


class Contract(_Frozen):
    contract_id: str
    phase: str
    gate: str
    source: str
    deliverables: list[Deliverable]
    forbidden_patterns: ForbiddenPatterns
    cross_file_checks: list[CrossFileCheck]
    metric_thresholds: list[Threshold]
    gate_evidence: GateSpec
    reproduction: Reproduction | None = None

    def thresholds_for(self, subsystem: str) -> list[Threshold]:
        return [t for t in self.metric_thresholds if t.subsystem == subsystem]

    def threshold(self, subsystem: str, figure: str) -> Threshold:
        for item in self.metric_thresholds:
            if item.subsystem == subsystem and item.figure == figure:
                return item
        raise ConfigError(
            "contract",
            f"metric_thresholds[{subsystem}.{figure}]",
            None,
            "a threshold for this figure",
        )

    def cross_check(self, check_id: str) -> CrossFileCheck | None:
        return next((c for c in self.cross_file_checks if c.id == check_id), None)


def load_contract(path: Path) -> Contract:
    """Read and validate the contract; errors name the file and the key.

    The file is read within :func:`~agent_platform.inputs.read_text_bounded`'s limits and its
    nesting is measured before the (recursive) JSON decoder sees it.

    Raises:
        ConfigError: the file is missing, not a regular file, too large or not UTF-8 (key
            ``<file>``; the validator script exits 2 on these), or the text is not JSON, nests
            deeper than ``JSON_MAX_DEPTH``, repeats a key within an object, or does not match
            the contract schema.
    """
    try:
        text = read_text_bounded(path, what="contract file")
    except InputFileError as exc:
        allowed = f"a regular UTF-8 JSON file of at most {DEFAULT_LIMIT_BYTES:,} bytes"
        raise ConfigError(str(path), "<file>", exc.reason, allowed) from None
    if json_depth(text) > JSON_MAX_DEPTH:
        raise ConfigError(
            str(path),
            "<document>",
            f"nesting deeper than {JSON_MAX_DEPTH} levels",
            f"JSON nested at most {JSON_MAX_DEPTH} levels",
        )
    try:
        data = json.loads(text, object_pairs_hook=unique_object)
    except DuplicateKeyError as exc:
        raise ConfigError(str(path), "<document>", exc.key, "each key once per object") from None
    except ValueError as exc:
        raise ConfigError(str(path), "<document>", shorten(str(exc), 120), "valid JSON") from None
    try:
        return Contract.model_validate(data)
    except ValidationError as exc:
        raise translate_validation_error(str(path), exc, data) from exc


def meets(value: float | int | str | bool, threshold: Threshold) -> bool:
    """Whether a measured figure satisfies its threshold; anything unmeasured does not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return _OPS[threshold.op](float(value), threshold.value)
