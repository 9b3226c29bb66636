"""The guard corpus: its shape, the guard's verdicts on it, and malformed corpora refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent_platform.errors import ConfigError
from agent_platform.evidence.workloads.guard_corpus import (
    CAUGHT,
    CLEAN,
    CORPUS_DIR,
    CaseResult,
    load_corpus,
    run_guard_corpus,
)

# Every rule the guard raises under the shipped policy (sandbox_network_not_isolated needs a
# policy that requires isolation, which the shipped one does not).
SHIPPED_RULES = {
    "forbidden_call",
    "hardcoded_secret",
    "placeholder_marker",
    "stub_body",
    "syntax_error",
    "write_outside_workspace",
    "prompt_injection",
    "unknown_dependency",
    "invalid_dependency",
    "too_many_dependencies",
    "approval_without_passing_qa",
}


def test_the_corpus_has_twenty_of_each_and_covers_every_rule_with_variants():
    corpus = load_corpus()
    assert len(corpus.violations) >= 20 and len(corpus.clean) >= 20
    rules = [c.rule for c in corpus.violations]
    assert set(rules) == SHIPPED_RULES
    assert sum(rules.count(r) >= 2 for r in SHIPPED_RULES) >= 6


def test_the_shipped_guard_catches_every_violation_and_flags_no_clean_change():
    results = run_guard_corpus()
    wrong = [
        (r.case_id, r.outcome, r.found_rules) for r in results if r.outcome not in (CAUGHT, CLEAN)
    ]
    assert wrong == []


def test_outcomes_follow_from_the_expected_and_found_rules():
    assert CaseResult("a", "bundle", "stub_body", ("stub_body",)).outcome == "caught"
    assert CaseResult("a", "bundle", "stub_body", ("forbidden_call",)).outcome == "missed"
    assert CaseResult("b", "bundle", None, ()).outcome == "clean"
    assert CaseResult("b", "bundle", None, ("stub_body",)).outcome == "false_positive"


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS_DIR, folder)
    return folder


def test_a_clean_case_that_names_a_rule_is_refused(tmp_path: Path):
    folder = _copy(tmp_path)
    clean = folder / "clean.yaml"
    clean.write_text(
        clean.read_text().replace(
            "- id: plain_function_with_test\n",
            "- id: plain_function_with_test\n  rule: stub_body\n",
            1,
        )
    )
    with pytest.raises(ConfigError, match=r"plain_function_with_test\.rule"):
        load_corpus(folder)


def test_a_repeated_case_id_is_refused(tmp_path: Path):
    folder = _copy(tmp_path)
    clean = folder / "clean.yaml"
    clean.write_text(clean.read_text().replace("- id: relative_path_writes", "- id: syntax_error"))
    with pytest.raises(ConfigError, match="syntax_error"):
        load_corpus(folder)
