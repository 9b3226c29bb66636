"""Provenance helpers: the dirty check counts untracked files, the gate never counts itself."""

import json
import subprocess
from pathlib import Path

from agent_platform.config import project_root
from agent_platform.evidence.contract_model import Contract
from agent_platform.evidence.files import dirty_paths, git_dirty
from agent_platform.evidence.gate import deliverable_counts
from agent_platform.evidence.layout import GATE_PATH


def _checkout(root: Path) -> None:
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    (root / ".gitignore").write_text("ignored/\n")
    (root / "module.py").write_text("x = 1\n")
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "fixture"], check=True)


def test_untracked_files_are_dirty_ignored_and_generated_ones_are_not(tmp_path: Path) -> None:
    _checkout(tmp_path)
    assert git_dirty(tmp_path) is False
    (tmp_path / "ignored").mkdir()
    (tmp_path / "ignored" / "cache.bin").write_text("x")
    (tmp_path / "evidence" / "gates").mkdir(parents=True)
    (tmp_path / "evidence" / "gates" / "g.json").write_text("{}")
    (tmp_path / "docs" / "architecture").mkdir(parents=True)
    (tmp_path / "docs" / "architecture" / "phase1_architecture.md").write_text("# Doc\n")
    assert dirty_paths(tmp_path) == []
    (tmp_path / "new_module.py").write_text("y = 2\n")
    assert dirty_paths(tmp_path) == ["new_module.py"]
    (tmp_path / "module.py").write_text("x = 3\n")
    assert git_dirty(tmp_path) is True
    assert sorted(dirty_paths(tmp_path) or []) == ["module.py", "new_module.py"]


def test_a_folder_that_is_not_a_checkout_has_unknown_dirtiness(tmp_path: Path) -> None:
    assert git_dirty(tmp_path / "nowhere") is None


def test_the_gate_document_is_not_counted_among_the_deliverables(tmp_path: Path) -> None:
    real = json.loads(
        (project_root() / "contracts/phase_1_core_architecture.contract.json").read_text()
    )
    real["deliverables"] = [
        d for d in real["deliverables"] if d["path"] in (GATE_PATH, "policies/finops.yaml")
    ]
    contract = Contract.model_validate(real)
    (tmp_path / "evidence" / "gates").mkdir(parents=True)
    assert deliverable_counts(contract, tmp_path, tmp_path) == (0, 0)
    (tmp_path / GATE_PATH).write_text("{}\n")
    assert deliverable_counts(contract, tmp_path, tmp_path) == (0, 0)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "finops.yaml").write_text("a: 1\nb: 2\n")
    assert deliverable_counts(contract, tmp_path, tmp_path) == (1, 2)
