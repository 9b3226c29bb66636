"""Parsing, transitions, topology validation and snapshots: the deterministic parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_platform.errors import ConfigError, InvalidInputError
from agent_platform.orchestration.llm import LLMRequest
from agent_platform.orchestration.parsing import ParseFailure, parse_output
from agent_platform.orchestration.scripted import ScriptedLLM, ScriptedResponse, load_task_file
from agent_platform.orchestration.snapshot import export_snapshot, load_snapshot, topology_from_text
from agent_platform.orchestration.topology import CONDITIONS, default_topology
from agent_platform.orchestration.transitions import apply_output
from agent_platform.orchestration.types import CriticVerdict, Plan, QAResult
from agent_platform.schemas.policy import load_agent_policy

POLICY = load_agent_policy()


def test_json_is_found_in_prose_and_code_fences():
    answer = (
        'Sure!\n```json\n{"steps": ["a"], "files_to_write": ["m.py"], "test_strategy": "t"}\n```'
    )
    plan = parse_output("planner", answer, Plan)
    assert isinstance(plan, Plan) and plan.files_to_write == ["m.py"]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [("no json here", "no JSON object"), ('{"steps": []}', "Plan.steps")],
)
def test_bad_answers_become_typed_failures(answer, reason):
    failure = parse_output("planner", answer, Plan)
    assert isinstance(failure, ParseFailure) and reason in failure.reason


def test_critic_refinement_counts_until_the_bound_then_rejects():
    verdict = CriticVerdict(needs_refinement=True, reasons=["r"])
    first = apply_output("critic", {"refinements": 0}, verdict, max_refinements=1)
    assert first["refinements"] == 1 and first["feedback"] == ["r"]
    at_bound = apply_output("critic", {"refinements": 1}, verdict, max_refinements=1)
    assert at_bound["decision"]["approved"] is False
    assert "refinement bound of 1 reached" in at_bound["decision"]["reasons"][0]


def test_failed_qa_sends_its_failures_to_the_coder_without_timing_in_the_state():
    qa = QAResult(tests_run=1, passed=0, failed=1, ok=False, failures=["t::x: boom"], duration_ms=5)
    update = apply_output("qa", {"refinements": 0}, qa, max_refinements=2)
    assert update["feedback"] == ["t::x: boom"] and "duration_ms" not in update["qa"]
    assert CONDITIONS["after_qa"]({**update}) == "fix"


def test_conditions_stop_as_soon_as_a_decision_exists():
    decided = {"decision": {"approved": False}, "verdict": {"needs_refinement": True}}
    assert {CONDITIONS[name](decided) for name in CONDITIONS} == {"stop"}


def test_snapshot_round_trip_and_bad_snapshots(tmp_path: Path):
    topology = default_topology(POLICY)
    assert load_snapshot(export_snapshot(topology, tmp_path / "g.yaml")) == topology
    text = (tmp_path / "g.yaml").read_text()
    with pytest.raises(ConfigError, match="condition 'sometimes' is unknown"):
        topology_from_text(text.replace("after_critic", "sometimes"), "g.yaml")
    with pytest.raises(ConfigError, match="max_refinements"):
        topology_from_text(text.replace("max_refinements: 2", "max_refinements: -1"), "g.yaml")


def test_the_shipped_policy_and_scenarios_load():
    assert POLICY.max_refinements == 2
    folder = Path(__file__).resolve().parents[3] / "configs" / "scenarios"
    names = sorted(p.stem for p in folder.glob("*.yaml"))
    assert len(names) >= 5
    for path in folder.glob("*.yaml"):
        assert load_task_file(path).simulation is not None


def test_a_bad_task_file_names_file_and_key(tmp_path: Path):
    path = tmp_path / "task.yaml"
    path.write_text("title: t\n")
    with pytest.raises(ConfigError, match=r"task.yaml: description"):
        load_task_file(path)


async def test_scripted_llm_matches_on_the_prompt_header():
    llm = ScriptedLLM([ScriptedResponse(match="node=critic attempt=2", content="{}")])
    request = LLMRequest("critic", "review", "[agent_platform node=critic attempt=2]\n", 10, "c")
    assert (await llm.complete(request)).simulated
    with pytest.raises(InvalidInputError, match="node=coder"):
        await llm.complete(
            LLMRequest("coder", "coding", "[agent_platform node=coder attempt=1]", 1, "c")
        )
