"""Every Python example of the architecture document runs as written."""

import re
import tempfile
from pathlib import Path

import pytest

from agent_platform.config import project_root

DOC = project_root() / "docs/architecture/phase1_architecture.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def test_the_document_has_the_examples_and_diagrams_it_promises() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert len(EXAMPLES) >= 8
    assert text.count("```mermaid") >= 3
    assert 200 <= len(text.splitlines()) <= 500


@pytest.mark.parametrize("source", EXAMPLES, ids=[f"example-{n + 1}" for n in range(len(EXAMPLES))])
def test_example_runs(source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    exec(compile(source, str(DOC), "exec"), {"__name__": "docs_example"})
