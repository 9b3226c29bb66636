"""The forbidden-pattern scanner: prose markers, stubs on the syntax tree, and what is exempt."""

from pathlib import Path

from agent_platform.evidence.contract_model import ForbiddenPatterns
from agent_platform.evidence.scanner import scan, scan_text

# Built at run time so this file itself never holds a marker in its prose.
MARK = "TO" + "DO"
PATTERNS = ForbiddenPatterns(
    markers=[MARK, "FIX" + "ME"], placeholder_phrases=["lorem ipsum"], scan=["src/**/*.py"]
)


def kinds(rel: str, text: str) -> list[str]:
    return [f.kind for f in scan_text(rel, text, PATTERNS)]


def test_marker_in_comment_and_docstring_is_found_but_not_in_string_data() -> None:
    code = f'"""Module.\n\n{MARK}: finish."""\nMARKERS = ["{MARK}"]\nx = 1  # {MARK} later\n'
    found = scan_text("m.py", code, PATTERNS)
    assert [(f.kind, f.line) for f in found] == [("marker", 3), ("marker", 5)]


def test_stub_bodies_are_found_on_the_syntax_tree() -> None:
    code = (
        "def a():\n    pass\n\n"
        "def b():\n    ...\n\n"
        'def c():\n    """Only a docstring."""\n\n'
        "def d():\n    raise NotImplementedError\n"
    )
    details = [f.detail for f in scan_text("m.py", code, PATTERNS)]
    assert details == [
        "a: pass-only body",
        "b: ellipsis-only body",
        "c: docstring-only body",
        "raise NotImplementedError",
    ]


def test_pass_inside_except_protocol_methods_and_overloads_are_not_stubs() -> None:
    code = (
        "from typing import Protocol, overload\n"
        "class Sink(Protocol):\n    def publish(self) -> str:\n        ...\n"
        "@overload\ndef f(x: int) -> int:\n    ...\n"
        "def f(x):\n    try:\n        return int(x)\n    except ValueError:\n        pass\n    return 0\n"
    )
    assert kinds("m.py", code) == []


def test_config_files_are_scanned_in_comments_only_and_markdown_everywhere() -> None:
    assert kinds("p.yaml", f"markers: [{MARK}]\nkey: 1  # {MARK} decide\n") == ["marker"]
    assert kinds("d.md", f"Some lorem ipsum and a {MARK}.\n") == ["marker", "placeholder"]


def test_scan_walks_the_globs_and_reports_paths(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ok.py").write_text("def f() -> int:\n    return 1\n")
    (tmp_path / "src" / "bad.py").write_text("def g():\n    pass\n")
    found = scan(tmp_path, PATTERNS)
    assert [(f.path, f.kind) for f in found] == [("src/bad.py", "stub")]


def test_makefile_ci_script_and_deploy_files_are_scanned_for_text_markers(tmp_path: Path) -> None:
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "run").write_text(f"#!/usr/bin/env bash\nmake test  # {MARK} retry\n")
    (tmp_path / "Makefile").write_text(f"gate:\n\t@echo {MARK}\n")
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "dagster.yaml").write_text(f"run_queue: 1  # {MARK}\n")
    patterns = ForbiddenPatterns(markers=[MARK], scan=["Makefile", ".ci/run", "deploy/**/*"])
    found = scan(tmp_path, patterns)
    assert [(f.path, f.line, f.kind) for f in found] == [
        (".ci/run", 2, "marker"),
        ("Makefile", 2, "marker"),
        ("deploy/dagster.yaml", 1, "marker"),
    ]
