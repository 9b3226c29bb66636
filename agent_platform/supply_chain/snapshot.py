"""Advisories from the project's own compact snapshot (``agent_platform/data/advisories``).

The snapshot lives inside the package, so it is there in a checkout and in an installed wheel
alike, and nothing outside the project is ever read. It is loaded once per look-up service:
the data file is checked against the manifest's SHA-256, then indexed by normalised package
name. Any problem (no manifest, no data for the ecosystem, a changed file) makes the source
unusable with a reason naming the path, and the packages it would have answered for are then
"not checked", never clean.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from agent_platform.errors import SupplyChainError
from agent_platform.supply_chain.model import Advisory, Ecosystem, SourceInfo
from agent_platform.supply_chain.names import normalize_name
from agent_platform.supply_chain.osv_match import match_record, to_advisory
from agent_platform.supply_chain.snapshot_format import (
    EcosystemSnapshot,
    read_manifest,
    read_records,
)

__all__ = ["PACKAGED_SNAPSHOT", "SnapshotAdvisoryDB", "snapshot_label"]

PACKAGED_SNAPSHOT = Path(__file__).resolve().parent.parent / "data" / "advisories"
"""The snapshot shipped with the package (also the default target of ``advisories update``)."""


def snapshot_label(entry: EcosystemSnapshot) -> str:
    """How reports name a snapshot: source, commit (when known) and date."""
    commit = f" {entry.source_commit[:7]}" if entry.source_commit else ""
    return f"{entry.source} snapshot{commit} of {entry.snapshot_date.isoformat()}"


class SnapshotAdvisoryDB:
    """Look up one ecosystem's advisories in a compact snapshot folder."""

    def __init__(self, folder: Path, ecosystem: Ecosystem) -> None:
        self.folder = folder
        self._ecosystem: Ecosystem = ecosystem
        self._entry: EcosystemSnapshot | None = None
        self._index: dict[str, list[dict[str, Any]]] | None = None
        self._problem: str | None = None

    @property
    def ecosystem(self) -> Ecosystem:
        return self._ecosystem

    @property
    def entry(self) -> EcosystemSnapshot:
        """The manifest entry (SupplyChainError when the snapshot cannot be used)."""
        self._load()
        if self._entry is None:
            raise SupplyChainError(self._problem or f"advisory snapshot {self.folder} not loaded")
        return self._entry

    @property
    def label(self) -> str:
        return snapshot_label(self.entry)

    @property
    def snapshot_date(self) -> dt.date:
        return self.entry.snapshot_date

    @property
    def sha256(self) -> str:
        return self.entry.sha256

    def info(self) -> SourceInfo:
        entry = self.entry
        return SourceInfo(
            name=entry.source,
            kind="advisory snapshot",
            location=str(self.folder / entry.file),
            date=entry.snapshot_date.isoformat(),
            note=(
                f"{self.label}, {entry.records} records, sha256 {entry.sha256}; knows nothing "
                f"published after {entry.snapshot_date.isoformat()}"
            ),
            licence=f"{entry.licence} ({entry.attribution})",
        )

    def unavailable_reason(self) -> str | None:
        """Why the snapshot cannot answer for this ecosystem (None when it can)."""
        self._load()
        return self._problem

    def _load(self) -> None:
        if self._index is not None or self._problem is not None:
            return
        try:
            entries = read_manifest(self.folder)
            entry = entries.get(self._ecosystem)
            if entry is None:
                raise SupplyChainError(
                    f"advisory snapshot {self.folder} has no data for {self._ecosystem} "
                    f"(it holds: {', '.join(sorted(entries)) or 'nothing'})"
                )
            records = read_records(self.folder, entry)
        except SupplyChainError as exc:
            self._problem = str(exc)
            return
        index: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            for name in _names(record, self._ecosystem):
                index.setdefault(name, []).append(record)
        self._entry, self._index = entry, index

    def lookup(self, name: str, version: str) -> list[Advisory]:
        """Advisories in the snapshot that affect ``name==version``."""
        self._load()
        if self._index is None:
            raise SupplyChainError(self._problem or f"advisory snapshot {self.folder} unusable")
        found: list[Advisory] = []
        for record in self._index.get(normalize_name(self._ecosystem, name), []):
            how = match_record(record, self._ecosystem, name, version)
            if how is not None:
                found.append(to_advisory(record, self._ecosystem, name, self.label, how))
        return found


def _names(record: dict[str, Any], ecosystem: Ecosystem) -> set[str]:
    return {
        normalize_name(ecosystem, str(a.get("package", {}).get("name", "")))
        for a in record.get("affected") or []
        if isinstance(a, dict)
    }
