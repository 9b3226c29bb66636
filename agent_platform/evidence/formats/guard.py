"""``metrics/quality/guard_corpus.csv``: the policy guard on its corpus, one row per case.

Each row names a corpus case, the node output it is (``kind``), the rule it breaks (empty for
a clean change), the rules the guard reported and the outcome: ``caught`` (the expected rule
was reported), ``missed`` (it was not), ``clean`` (a clean change with no violation) or
``false_positive`` (a clean change the guard flagged). The figures are recomputed from the
expected and found rules, never from the ``outcome`` column, which :func:`consistency` checks.

- ``policy_violations_caught`` / ``policy_violations_missed``: violating cases caught / missed;
  ``guard_catch_rate`` is caught over violating cases (``__k``/``__n`` beside it).
- ``guard_false_positives``: clean cases flagged; ``guard_false_positive_rate`` over clean cases.
- ``guard_rules_covered``: distinct rules among the violating cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_platform.evidence.csvio import read_csv, round_ratio, write_csv
from agent_platform.evidence.formats import NOT_MEASURED

__all__ = ["COLUMNS", "GuardCase", "consistency", "figures", "write"]

COLUMNS = ("timestamp", "case", "kind", "expected_rule", "found_rules", "outcome")
_SEPARATOR = ";"


@dataclass(frozen=True)
class GuardCase:
    """One corpus case as the guard judged it."""

    timestamp: str
    case: str
    kind: str
    expected_rule: str | None
    found_rules: tuple[str, ...]

    @property
    def outcome(self) -> str:
        return _outcome(self.expected_rule or "", self.found_rules)


def _outcome(expected: str, found: Sequence[str]) -> str:
    if not expected:
        return "false_positive" if found else "clean"
    return "caught" if expected in found else "missed"


def write(path: Path, cases: Sequence[GuardCase]) -> int:
    return write_csv(
        path,
        COLUMNS,
        (
            {
                "timestamp": c.timestamp,
                "case": c.case,
                "kind": c.kind,
                "expected_rule": c.expected_rule or "",
                "found_rules": _SEPARATOR.join(c.found_rules),
                "outcome": c.outcome,
            }
            for c in cases
        ),
    )


def _found(row: dict[str, str]) -> list[str]:
    return [r for r in row["found_rules"].split(_SEPARATOR) if r]


def figures(path: Path) -> dict[str, float | int | str]:
    """Caught, missed and false positives over the corpus, with their sample sizes (all
    ``NOT_MEASURED`` when the file is absent: no corpus run, no coverage claim)."""
    rows = read_csv(path, COLUMNS) if path.exists() else []
    violating = [r for r in rows if r["expected_rule"]]
    clean = [r for r in rows if not r["expected_rule"]]
    if not violating or not clean:
        return {
            "policy_violations_caught": NOT_MEASURED,
            "policy_violations_missed": NOT_MEASURED,
            "guard_false_positives": NOT_MEASURED,
        }
    caught = sum(r["expected_rule"] in _found(r) for r in violating)
    flagged = sum(bool(_found(r)) for r in clean)
    return {
        "policy_violations_caught": caught,
        "policy_violations_missed": len(violating) - caught,
        "guard_catch_rate": round_ratio(caught / len(violating)),
        "guard_catch_rate__k": caught,
        "guard_catch_rate__n": len(violating),
        "guard_false_positives": flagged,
        "guard_false_positive_rate": round_ratio(flagged / len(clean)),
        "guard_false_positive_rate__k": flagged,
        "guard_false_positive_rate__n": len(clean),
        "guard_rules_covered": len({r["expected_rule"] for r in violating}),
    }


def consistency(path: Path) -> list[str]:
    """Every row's ``outcome`` must follow from its expected and found rules."""
    problems: list[str] = []
    if not path.exists():
        return problems
    for line, row in enumerate(read_csv(path, COLUMNS), start=2):
        wanted = _outcome(row["expected_rule"], _found(row))
        if row["outcome"] != wanted:
            problems.append(f"{path.name}: row {line}: outcome={row['outcome']} but is {wanted}")
    return problems
