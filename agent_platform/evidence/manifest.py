"""Per-workload run manifests: which run wrote which evidence file, with what, and when.

Each evidence asset finishes by writing ``evidence/manifests/<workload>.json``: the run id,
start and end times, the SHA-256 of every file it wrote, the workload sizes and the backends
it ran on, and what the workload declares about itself (``declared``). The gate only counts a
workload as measured when its manifest belongs to the gate's own run and every hash still
matches, so a file left over from an earlier run, or edited after its workload wrote it, is
reported as not measured. A file rewritten *together with* its manifest is not caught by the
hashes: the validator's declared-facts checks (:mod:`agent_platform.evidence.declared`) and, in
the end, re-measuring (``validate_contract.py --reproduce``) are what catch that.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from agent_platform.errors import EvidenceError
from agent_platform.evidence.files import sha256_file, write_text_atomic
from agent_platform.evidence.layout import EvidenceLayout

__all__ = ["WorkloadManifest", "read_manifest", "record_workload", "staleness"]


@dataclass(frozen=True)
class WorkloadManifest:
    """What one workload wrote in one run."""

    workload: str
    run_id: str
    started_at: str
    finished_at: str
    files: dict[str, str]
    workload_sizes: dict[str, Any] = field(default_factory=dict)
    backends: dict[str, Any] = field(default_factory=dict)
    declared: dict[str, Any] = field(default_factory=dict)
    """What the workload declares about its own run: ``samples`` (file → expected sample rows),
    and the config, fault mix and seeds it ran with, so a validator can hold the files to it."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def record_workload(
    layout: EvidenceLayout,
    *,
    workload: str,
    run_id: str,
    started_at: str,
    finished_at: str,
    files: tuple[str, ...],
    workload_sizes: Mapping[str, Any],
    backends: Mapping[str, Any],
    declared: Mapping[str, Any] | None = None,
) -> WorkloadManifest:
    """Hash ``files`` (relative to the layout root) and write the workload's manifest."""
    manifest = WorkloadManifest(
        workload=workload,
        run_id=run_id,
        started_at=started_at,
        finished_at=finished_at,
        files={rel: sha256_file(layout.path(rel)) for rel in files},
        workload_sizes=dict(workload_sizes),
        backends=dict(backends),
        declared=dict(declared or {}),
    )
    write_text_atomic(layout.manifest(workload), manifest.to_json())
    return manifest


def read_manifest(layout: EvidenceLayout, workload: str) -> WorkloadManifest | None:
    """The workload's manifest, or None when it never ran here."""
    path = layout.manifest(workload)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return WorkloadManifest(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise EvidenceError(f"{path}: unreadable workload manifest: {exc}") from exc


def staleness(layout: EvidenceLayout, manifest: WorkloadManifest | None, run_id: str) -> str | None:
    """Why the workload's files are not measurements of ``run_id`` (None when they are)."""
    if manifest is None:
        return "the workload did not run (no manifest)"
    if manifest.run_id != run_id:
        return f"the files come from run {manifest.run_id}, not from this run"
    for rel, digest in manifest.files.items():
        path = layout.path(rel)
        if not path.exists():
            return f"{rel} is missing"
        if sha256_file(path) != digest:
            return f"{rel} changed after the workload wrote it"
    return None
