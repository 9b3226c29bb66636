"""The performance table states, per row, the scale and whether providers were simulated."""

from pathlib import Path

import pytest

from agent_platform.config import project_root
from agent_platform.errors import EvidenceError
from agent_platform.evidence.contract_model import load_contract
from agent_platform.evidence.perf_table import (
    BEGIN,
    END,
    block_run_id,
    read_block,
    render_table,
    rewrite_block,
    update_document,
)

CONTRACT = load_contract(project_root() / "contracts/phase_1_core_architecture.contract.json")
GATE = {
    "status": "FAIL",
    "run": {"run_id": "r-1", "finished_at": "2026-06-01T10:00:00Z"},
    "commit": "a" * 40,
    "backends": {"database": "postgresql", "providers_simulated": True, "sources": ["x", "y"]},
    "provider_traffic": {"router": "simulated"},
    "workload_sizes": {
        "router_decisions": {"scale": "reduced"},
        "router_failover": {"scale": "reduced"},
        "finops": {"scale": "full"},
        "budget_concurrency": {"scale": "reduced"},
    },
    "subsystems": {
        "router": {
            "figures": {"routing_accuracy": 0.95},
            "judged": {
                "routing_accuracy": {
                    "value": 0.95,
                    "n": 400,
                    "interval": [0.924, 0.9675],
                    "verdict": "PASS",
                    "backend": {"database": "sqlite", "providers": "simulated"},
                }
            },
        },
        "state_fabric": {
            "figures": {"save_latency_p95_ms": 3.2},
            "judged": {
                "save_latency_p95_ms": {
                    "value": 3.2,
                    "n": 320,
                    "verdict": "PASS",
                    "backend": {"database": "sqlite"},
                    "met_on_substitute": "sqlite for postgresql",
                }
            },
        },
        "finops": {"figures": {}},
    },
}


def test_provenance_line_names_run_commit_scale_backends_and_simulation() -> None:
    first = render_table(GATE, CONTRACT).splitlines()[0]
    assert first == (
        "Run `r-1` at commit `aaaaaaaaaaaa`, finished 2026-06-01T10:00:00Z; "
        "scale: mixed (full, reduced); simulated providers: yes; "
        "backends: database postgresql, sources x + y; gate **FAIL**."
    )
    assert block_run_id(render_table(GATE, CONTRACT)) == "r-1"


def test_rows_carry_scale_and_simulated_provider_columns() -> None:
    rows = render_table(GATE, CONTRACT).splitlines()
    assert rows[2].endswith(
        "| n | 95 % interval | Verdict | Backend | Scale | Simulated providers |"
    )
    accuracy = next(r for r in rows if "| routing_accuracy |" in r)
    assert accuracy == (
        "| router | routing_accuracy | >= 0.92 | 0.95 | 400 | 0.9240–0.9675 | pass "
        "| database sqlite, providers simulated | reduced | yes |"
    )
    save = next(r for r in rows if "| save_latency_p95_ms |" in r)
    assert "| 3.2 | 320 | – | pass (on sqlite for postgresql) | database sqlite |" in save
    breaches = next(r for r in rows if "| budget_breaches |" in r)
    assert breaches.endswith(
        "| NOT_MEASURED | not recorded | – | not judged | not recorded "
        "| mixed (full, reduced) | not used |"
    )
    residency = next(r for r in rows if "| eu_compliance_rate |" in r)
    assert residency.endswith("| not recorded | not used |")
    old_gate = {k: v for k, v in GATE.items() if k != "provider_traffic"}
    assert render_table(old_gate, CONTRACT).splitlines()[-1].endswith("| not recorded |")


PRODUCTION = {**GATE, "backends": {"database": "postgresql", "cache": "redis"}}


def test_block_round_trips_and_missing_markers_are_an_error(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"# T\n{BEGIN}\nold\n{END}\ntail\n")
    rewrite_block(doc, render_table(PRODUCTION, CONTRACT))
    assert read_block(doc) == render_table(PRODUCTION, CONTRACT)
    assert doc.read_text().endswith(f"{END}\ntail\n")
    doc.write_text("# no markers\n")
    with pytest.raises(EvidenceError, match="markers are missing"):
        read_block(doc)


@pytest.mark.parametrize(
    ("backends", "named"),
    [
        ({"database": "sqlite", "cache": "memory"}, "database 'sqlite' (needs 'postgresql')"),
        ({"database": "postgresql", "cache": "memory"}, "cache 'memory' (needs 'redis')"),
        ({"database": ["postgresql", "sqlite"], "cache": "redis"}, "database"),
        ({"database": "postgresql"}, "cache 'not recorded'"),
    ],
)
def test_the_document_only_takes_a_run_on_postgresql_and_redis(
    tmp_path: Path, backends: dict[str, object], named: str
) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"# T\n{BEGIN}\nold\n{END}\n")
    gate = {**GATE, "backends": backends}
    with pytest.raises(EvidenceError, match="did not use PostgreSQL \\+ Redis") as caught:
        update_document(doc, gate, CONTRACT)
    assert named in str(caught.value)
    with pytest.raises(EvidenceError, match="refusing to publish"):
        rewrite_block(doc, render_table(gate, CONTRACT))
    assert read_block(doc) == "old"
    update_document(doc, PRODUCTION, CONTRACT)
    assert read_block(doc) == render_table(PRODUCTION, CONTRACT)
