"""The staging folder of a gate run and the swap of its trees into the evidence root."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from agent_platform.errors import EvidenceError
from agent_platform.evidence import staging
from agent_platform.evidence.staging import STAGING_DIR, exchange, promote, prune, staging_folder


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file() and STAGING_DIR not in str(p.relative_to(root))
    }


OLD = {
    "evidence/gates/g1_architecture.json": '{"run": "old"}',
    "evidence/only_in_old.md": "old",
    "metrics/cost/budget_report.csv": "old,csv\n",
    "notifications/delivery_log.csv": "old\n",
}
NEW = {
    "evidence/gates/g1_architecture.json": '{"run": "new"}',
    "metrics/cost/budget_report.csv": "new,csv\n",
    "notifications/delivery_log.csv": "new\n",
}


def test_promote_replaces_every_tree_whole_and_removes_the_staging_folder(tmp_path: Path) -> None:
    _write(tmp_path, OLD | {"configs/keep.yaml": "untouched"})
    folder = staging_folder(tmp_path, "run-1")
    _write(folder, NEW)
    (folder / "launcher.log").write_text("a log file is not a tree")
    assert promote(folder, tmp_path) == ["evidence", "metrics", "notifications"]
    assert _tree(tmp_path) == NEW | {"configs/keep.yaml": "untouched"}
    assert not folder.exists()


def test_promote_into_an_empty_root(tmp_path: Path) -> None:
    folder = staging_folder(tmp_path, "run-1")
    _write(folder, NEW)
    promote(folder, tmp_path)
    assert _tree(tmp_path) == NEW


def test_promote_without_the_exchange_call_uses_two_renames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staging, "_renameat2", lambda: None)
    _write(tmp_path, OLD)
    folder = staging_folder(tmp_path, "run-2")
    _write(folder, NEW)
    promote(folder, tmp_path)
    assert _tree(tmp_path) == NEW


def test_exchange_swaps_two_folders(tmp_path: Path) -> None:
    _write(tmp_path, {"a/x": "in a", "b/y": "in b"})
    if not exchange(tmp_path / "a", tmp_path / "b"):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here")
    assert _tree(tmp_path) == {"a/y": "in b", "b/x": "in a"}


def test_a_staging_folder_with_nothing_in_it_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, OLD)
    folder = staging_folder(tmp_path, "run-3")
    folder.mkdir(parents=True)
    with pytest.raises(EvidenceError, match="wrote no evidence folder"):
        promote(folder, tmp_path)
    assert _tree(tmp_path) == OLD


@pytest.mark.parametrize("bad", ["", "../escape", ".hidden", "a/b"])
def test_a_run_id_that_is_not_a_folder_name_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(EvidenceError):
        staging_folder(tmp_path, bad)


def test_prune_keeps_the_newest_folders(tmp_path: Path) -> None:
    now = time.time()
    for age, name in enumerate(["newest", "second", "third", "fourth", "fifth"]):
        folder = staging_folder(tmp_path, name)
        folder.mkdir(parents=True)
        os.utime(folder, (now - age * 60, now - age * 60))
    removed = prune(tmp_path, keep=3)
    assert sorted(p.name for p in removed) == ["fifth", "fourth"]
    assert sorted(p.name for p in (tmp_path / STAGING_DIR).iterdir()) == [
        "newest",
        "second",
        "third",
    ]
    assert prune(tmp_path / "nowhere") == []
