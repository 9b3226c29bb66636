"""Conventions every command shares: --json, --version, exit codes in --help, typo hints."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agent_platform.cli import EXIT_CODES, _leaves, build_parser, main
from agent_platform.commands._output import Output


def test_every_leaf_command_takes_json() -> None:
    leaves = list(_leaves(build_parser()))
    assert len(leaves) > 8
    for leaf in leaves:
        assert any(a.dest == "json" for a in leaf._actions), leaf.prog


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("agent-platform ")


def test_help_lists_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for code in EXIT_CODES:
        assert f"  {code} " in out


@pytest.mark.parametrize(
    ("argv", "hint"),
    [(["gatee"], "did you mean 'gate'?"), (["ledger", "verifyy"], "did you mean 'verify'?")],
)
def test_mistyped_subcommand_suggests_the_closest(
    argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert hint in err and len(err.strip().splitlines()) == 1


def test_non_utf8_argument_is_one_line_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agent_platform.cli", "ledger", "verify", "--ledger", b"\xff\xfe"],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 2
    err = done.stderr.decode()
    assert "not valid UTF-8" in err and "\\xff" in err and "Traceback" not in err


def test_output_json_mode_keeps_stdout_for_one_document(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = Output(True)
    out.say("human words")
    out.result({"ok": True})
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"ok": True}
    assert "human words" in captured.err
    with pytest.raises(RuntimeError):
        out.result({"again": 1})


def test_output_error_in_json_mode_is_a_json_document(capsys: pytest.CaptureFixture[str]) -> None:
    Output(True).error("ConfigError", "bad key", 2)
    assert json.loads(capsys.readouterr().out) == {
        "error": {"type": "ConfigError", "message": "bad key"},
        "exit_code": 2,
    }


def test_output_human_mode_prints_no_json(capsys: pytest.CaptureFixture[str]) -> None:
    out = Output(False)
    out.say("hello")
    out.result({"ok": True})
    assert capsys.readouterr().out == "hello\n"
