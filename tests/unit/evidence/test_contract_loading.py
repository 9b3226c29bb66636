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
