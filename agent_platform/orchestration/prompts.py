"""The prompts the model-backed nodes send, and the header scripted responses match on.

Every prompt starts with ``[agent_platform node=NAME attempt=N]``: the provider simulator's
scripted scenarios key their answers on that header (``node=coder attempt=2`` is the coder's
first refinement), and a real model simply sees a clear role line.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ANSWER_SHAPES", "build_prompt", "prompt_header"]

ANSWER_SHAPES: dict[str, str] = {
    "planner": (
        '{"steps": ["..."], "files_to_write": ["module.py", "tests/test_module.py"], '
        '"test_strategy": "..."}'
    ),
    "coder": ('{"files": {"path.py": "source"}, "dependencies": ["package>=1.0"], "notes": "..."}'),
    "critic": '{"needs_refinement": false, "reasons": ["..."]}',
    "approver": '{"approved": true, "reasons": ["..."]}',
}

_ROLES: dict[str, str] = {
    "planner": "You plan a small Python change: steps, the files to write and a test strategy.",
    "coder": (
        "You write the Python files of the plan, pytest tests included, complete and runnable. "
        "Address every item of the feedback when there is some."
    ),
    "critic": "You review the code against the task and the plan; ask for a refinement if needed.",
    "approver": "You decide whether the change is approved, given the review and the QA result.",
}


def prompt_header(node: str, attempt: int) -> str:
    """The first line of every prompt; scripted scenarios match on it."""
    return f"[agent_platform node={node} attempt={attempt}]"


def build_prompt(node: str, attempt: int, inputs: dict[str, Any]) -> str:
    """The full prompt for ``node``: header, role, answer shape and the JSON inputs."""
    return "\n".join(
        [
            prompt_header(node, attempt),
            _ROLES[node],
            f"Answer with one JSON object only, shaped like: {ANSWER_SHAPES[node]}",
            "INPUT:",
            json.dumps(inputs, sort_keys=True, indent=1, ensure_ascii=False),
        ]
    )
