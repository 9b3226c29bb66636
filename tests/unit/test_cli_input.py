"""Hostile input met through the command line: one line on stderr, exit 2, no traceback, quickly.

Each case is what a user can hand the CLI: a task file (``run``), a config under
``AGENT_PLATFORM_HOME`` (``budget status``), an environment variable or an argument. Time is
bounded by the pytest timeout, not asserted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from agent_platform._loopback import free_port
from agent_platform.cli import main
from agent_platform.config import YAML_LIMIT_BYTES, project_root
from agent_platform.orchestration.testing import scenario_path

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The embedded default backends under tmp_path; no provider credentials."""
    for name in ("AGENT_PLATFORM_DATABASE_URL", "AGENT_PLATFORM_REDIS_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENT_PLATFORM_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, captured.err
    assert err.startswith("agent-platform: error: ") and "Traceback" not in captured.err
    assert len(err) < 600
    return err


def _laughs() -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 10)]
    return "title: t\ndescription: d\n" + "\n".join(lines) + "\n"


def _scenario() -> dict[str, object]:
    data = yaml.safe_load(scenario_path("approve_first_pass").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_run_refuses_a_device_at_once(embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_exit_2(capsys, ["run", "/dev/zero"])
    assert err.endswith("/dev/zero: YAML file must be a regular file, not a device")


def test_run_names_a_missing_task_file(embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = embedded / "nope.yaml"
    err = _one_line_exit_2(capsys, ["run", str(missing)])
    assert f"file not found: {missing}" in err and "None" not in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"title: caf\xe9\n", "is not UTF-8 (byte 10"),
        (b"title: t\n" + b"#" * (YAML_LIMIT_BYTES + 1), f"allowed: at most {YAML_LIMIT_BYTES:,}"),
        (_laughs().encode(), "nodes once every alias is expanded"),
        (b"title: " + b"[" * 100_000 + b"\n", "depth"),
        (b"title: " + b"{a: " * 100_000 + b"\n", "at most 64 nested levels"),
        (b"title: a\ndescription: b\ntitle: c\n", "title (line 3): got 'title'; allowed: each key"),
        (b'title: "\\ud800"\ndescription: d\n', "line 1: got "),
        (b"title: t\ndescription: d\nwhen: 2024-02-30\n", "got '2024-02-30'; allowed: a real date"),
        (b"title: 1" + b"0" * 5000 + b"\n", "allowed: an integer of at most 4,300 digits"),
    ],
    ids=[
        "not-utf8",
        "oversized",
        "billion-laughs",
        "deep-flow",
        "deep-mapping",
        "duplicate-key",
        "lone-surrogate",
        "impossible-date",
        "huge-integer",
    ],
)
def test_run_refuses_a_hostile_task_file(
    embedded: Path, capsys: pytest.CaptureFixture[str], content: bytes, expected: str
) -> None:
    task = embedded / "task.yaml"
    task.write_bytes(content)
    err = _one_line_exit_2(capsys, ["run", str(task)])
    assert str(task) in err and expected in err


def test_run_refuses_a_negative_expected_count(
    embedded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _scenario()
    data["simulation"]["expect"]["refinements"] = -1  # type: ignore[index]
    task = embedded / "negative.yaml"
    task.write_text(yaml.safe_dump(data), encoding="utf-8")
    err = _one_line_exit_2(capsys, ["run", str(task)])
    key = "simulation.expect.refinements"
    assert f"{task}: {key}: got -1; allowed: " in err and "greater than or equal to 0" in err


def test_a_huge_value_in_a_task_file_is_clipped_in_the_message(
    embedded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = embedded / "huge.yaml"
    task.write_text("title: t\ndescription: [" + "x, " * 200_000 + "x]\n", encoding="utf-8")
    err = _one_line_exit_2(capsys, ["run", str(task)])
    assert f"{task}: description: got ['x', 'x'," in err and "..." in err


def test_json_mode_error_is_a_json_document(
    embedded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "/dev/zero", "--json"]) == 2
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["exit_code"] == 2 and "not a device" in document["error"]["message"]
    assert len(captured.err.strip().splitlines()) == 1


def _home(embedded: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config home holding copies of the routing config and the FinOps policy."""
    home = embedded / "home"
    for name in ("configs/model_routing.yaml", "policies/finops.yaml"):
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(project_root() / name, home / name)
    monkeypatch.setenv("AGENT_PLATFORM_HOME", str(home))
    return home


def test_a_config_with_a_duplicate_key_is_refused(
    embedded: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = _home(embedded, monkeypatch)
    policy = home / "policies/finops.yaml"
    text = policy.read_text(encoding="utf-8")
    policy.write_text(text + "active_phase: 2\n", encoding="utf-8")
    err = _one_line_exit_2(capsys, ["budget", "status"])
    assert f"{policy}: active_phase (line " in err and "each key once per mapping" in err


@pytest.mark.parametrize("number", [".inf", ".nan"])
def test_a_config_number_must_be_finite(
    embedded: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    number: str,
) -> None:
    routing = _home(embedded, monkeypatch) / "configs/model_routing.yaml"
    data = yaml.safe_load(routing.read_text(encoding="utf-8"))
    data["failover"]["request_timeout_s"] = "NUMBER"
    routing.write_text(yaml.safe_dump(data).replace("NUMBER", number), encoding="utf-8")
    err = _one_line_exit_2(capsys, ["budget", "status"])
    assert f"{routing}: failover.request_timeout_s: got " in err and "finite number" in err


@pytest.mark.parametrize(
    ("variable", "value", "shown"),
    [
        ("AGENT_PLATFORM_DATABASE_URL", "mysql://admin:S3cretPW@db/x", "mysql://***@db/x"),
        ("AGENT_PLATFORM_DATABASE_URL", "postgresql://u:S3cretPW@h:port/x", "***@h:port/x"),
        ("AGENT_PLATFORM_REDIS_URL", "garbage", "garbage"),
        ("AGENT_PLATFORM_REDIS_URL", "redis://:S3cretPW@cache:99999/0", "redis://***@cache"),
        ("AGENT_PLATFORM_REDIS_URL", "redis://cache/zero", "redis://cache/zero"),
    ],
)
def test_a_bad_backend_url_is_refused_by_every_command(
    embedded: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    shown: str,
) -> None:
    monkeypatch.setenv(variable, value)
    for argv in (["migrate"], ["replay", "some-run"], ["run", str(scenario_path("x"))]):
        err = _one_line_exit_2(capsys, argv)
        assert f"environment: {variable}: got " in err and shown in err
        assert "S3cretPW" not in err


def test_a_password_in_the_query_is_hidden_when_the_database_is_down(
    embedded: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql://app@127.0.0.1:{free_port()}/x?password=S3cretPW"
    monkeypatch.setenv("AGENT_PLATFORM_DATABASE_URL", url)
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "password=***" in err and "S3cretPW" not in err


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--port", "70000", "got 70000; allowed: a port 0..65535"),
        ("--port", "-1", "got -1; allowed: a port 0..65535"),
        ("--port", "http", "got 'http'; allowed: a port 0..65535"),
        ("--seconds", "-5", "got '-5'; allowed: seconds, 0 or more"),
        ("--seconds", "nan", "got 'nan'; allowed: seconds, 0 or more"),
    ],
)
def test_simulator_serve_checks_its_numbers(
    capsys: pytest.CaptureFixture[str], flag: str, value: str, expected: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["simulator", "serve", f"{flag}={value}"])
    assert info.value.code == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in captured.err
    assert expected in err and flag in err
