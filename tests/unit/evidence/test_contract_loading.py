"""The contract loader reads within bounds and names what is wrong in one line (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_platform.config import project_root
from agent_platform.errors import ConfigError
from agent_platform.evidence.contract_model import load_contract
from agent_platform.inputs import DEFAULT_LIMIT_BYTES, JSON_MAX_DEPTH
from scripts.validate_contract import main as validate_main

pytestmark = pytest.mark.timeout(120)

CONTRACT = project_root() / "contracts/phase_1_core_architecture.contract.json"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "contract.json"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_contract_loads() -> None:
    assert load_contract(CONTRACT).metric_thresholds


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda p: Path("/dev/zero"),
            "<file>: got 'contract file must be a regular file, not a device'",
        ),
        (lambda p: p / "absent.json", "<file>: got 'contract file not found'"),
        (
            lambda p: _write(p, " " * (DEFAULT_LIMIT_BYTES + 1)),
            f"allowed: a regular UTF-8 JSON file of at most {DEFAULT_LIMIT_BYTES:,} bytes",
        ),
        (lambda p: _write(p, "[" * 1_000_000), f"allowed: JSON nested at most {JSON_MAX_DEPTH}"),
        (
            lambda p: _write(p, '{"phase": "1", "phase": "2"}'),
            "got 'phase'; allowed: each key once",
        ),
        (lambda p: _write(p, '{"phase": '), "allowed: valid JSON"),
    ],
    ids=["device", "missing", "oversized", "deep", "duplicate-key", "truncated"],
)
def test_hostile_contracts_are_one_config_error_line(tmp_path: Path, make, expected: str) -> None:
    path = make(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_contract(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and expected in message
    assert "\n" not in message and len(message) < 400


def test_a_contract_too_deep_for_the_decoder_is_refused_by_the_validator_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(CONTRACT.read_text(encoding="utf-8"))
    data["source"] = "DEEP_VALUE"
    text = json.dumps(data).replace('"DEEP_VALUE"', "[" * 5000 + "]" * 5000)
    path = _write(tmp_path, text)
    assert validate_main([str(path)]) == 2
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err
    assert "nesting deeper than 64 levels" in captured.err


def test_every_threshold_states_its_kind_and_statistic_and_every_timed_unit_a_tolerance() -> None:
    contract = load_contract(CONTRACT)
    assert contract.reproduction is not None
    for item in contract.metric_thresholds:
        assert item.kind in ("deterministic", "timed"), item.figure
        if item.kind == "timed":
            assert item.unit in contract.reproduction.timed_tolerance, item.figure
        if item.unit == "ms":
            assert (item.kind, item.statistic) == ("timed", "percentile"), item.figure
    written = {t.figure: t.written_for for t in contract.metric_thresholds if t.written_for}
    assert written["get_latency_p95_ms"] == ("redis",)
    assert written["save_latency_p95_ms"] == ("postgresql",)


def test_a_tolerance_gives_exactly_one_rule_and_holds_as_stated(tmp_path: Path) -> None:
    data = json.loads(CONTRACT.read_text(encoding="utf-8"))
    data["reproduction"]["timed_tolerance"]["ms"] = {"factor": 2, "absolute": 1}
    with pytest.raises(ConfigError, match="exactly one of 'factor' or 'absolute'"):
        load_contract(_write(tmp_path, json.dumps(data)))
    rules = load_contract(CONTRACT).reproduction
    assert rules is not None
    ms, ratio = rules.timed_tolerance["ms"], rules.timed_tolerance[""]
    assert ms.holds(10.0, 10.0 * ms.factor) and not ms.holds(10.0, 10.0 * ms.factor + 0.1)
    assert ms.holds(10.0, 10.0 / ms.factor) and not ms.holds(10.0, 10.0 / ms.factor - 0.1)
    assert ratio.holds(0.95, 0.95 + (ratio.absolute or 0)) and not ratio.holds(0.95, 0.9)
