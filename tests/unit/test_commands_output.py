"""The commands of this package follow the Output convention: with --json, stdout is one JSON
document and the human text goes to stderr; without it, the human text is on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_platform.cli import main

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("AGENT_PLATFORM_DATABASE_URL", raising=False)
    monkeypatch.delenv("AGENT_PLATFORM_REDIS_URL", raising=False)
    monkeypatch.setenv("AGENT_PLATFORM_DATA_DIR", str(tmp_path))
    return tmp_path


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[dict[str, object], str]:
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_migrate(embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document, human = _json(capsys, ["migrate"])
    assert document["database"] == "sqlite" and document["direction"] == "up"
    assert document["revision"] == "head" and "migrated sqlite database to head" in human
    assert main(["migrate", "--down", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["revision"] == "base"
    assert main(["migrate"]) == 0
    assert capsys.readouterr().out == "migrated sqlite database to head\n"


def test_budget_status(embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document, human = _json(capsys, ["budget", "status"])
    eur = document["eur"]
    assert isinstance(eur, list) and len(eur) == 2
    assert eur[0]["committed"] == "0" and eur[0]["remaining"] == eur[0]["cap"]
    assert human.startswith(f"phase {document['phase']} on ")
    assert main(["budget", "status"]) == 0
    assert capsys.readouterr().out.startswith(f"phase {document['phase']} on ")


def test_simulator_serve(capsys: pytest.CaptureFixture[str]) -> None:
    document, human = _json(capsys, ["simulator", "serve", "--port", "0", "--seconds", "0"])
    assert document["requests"] == 0 and document["simulated"] is True
    assert str(document["base_url"]).startswith("http://127.0.0.1:")
    assert f"on {document['base_url']}" in human
