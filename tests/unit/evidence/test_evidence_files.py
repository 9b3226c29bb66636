import stat
from pathlib import Path

from agent_platform.evidence.files import write_text_atomic


def test_evidence_files_are_world_readable_and_leave_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "metrics" / "x.csv"
    write_text_atomic(target, "a,b\n1,2\n")
    write_text_atomic(target, "a,b\n3,4\n")
    assert target.read_text(encoding="utf-8") == "a,b\n3,4\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["x.csv"]
