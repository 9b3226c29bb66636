"""Build the project's advisory snapshot from a directory of OSV records (the PyPA layout).

``scripts/build_advisory_snapshot.py --source DIR`` runs :func:`build_from_directory`: every
``*.yaml``/``*.json`` record under ``DIR/vulns`` (or ``DIR`` itself) is read with the YAML base
loader, so every scalar stays a string (``2.10`` must not become the float ``2.1``), compacted,
and stored with its manifest entry, the source's licence text and a rendered attribution file.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agent_platform.errors import InvalidInputError, SupplyChainError
from agent_platform.inputs import clip, read_text_bounded
from agent_platform.supply_chain.model import OSV_ECOSYSTEM, Ecosystem
from agent_platform.supply_chain.snapshot_format import (
    EcosystemSnapshot,
    compact_record,
    encode_records,
    read_manifest,
    write_ecosystem,
)

__all__ = [
    "LICENCE_FILE",
    "NOTICE_FILE",
    "SourceFacts",
    "build_from_directory",
    "records_from_directory",
    "render_notice",
    "store_records",
]

LICENCE_FILE = "LICENSE"
NOTICE_FILE = "NOTICE.md"
_Loader: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_RECORD_LIMIT_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class SourceFacts:
    """Where a snapshot's records come from: named in the manifest and every report."""

    source: str
    source_url: str
    commit: str
    date: dt.date
    licence: str
    attribution: str


def records_from_directory(source: Path) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """Every OSV record file under ``source/vulns`` (or ``source``), in path order."""
    base = source / "vulns" if (source / "vulns").is_dir() else source
    if not base.is_dir():
        raise InvalidInputError(f"--source {clip(str(source))}: not a directory of OSV records")
    files = sorted(
        p for p in base.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".json")
    )
    if not files:
        raise InvalidInputError(f"--source {clip(str(source))}: holds no *.yaml or *.json records")
    for file in files:
        text = read_text_bounded(file, limit_bytes=_RECORD_LIMIT_BYTES, what="advisory record")
        try:
            record = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"{file}: not a YAML/JSON OSV record ({exc})") from exc
        if not isinstance(record, Mapping):
            raise InvalidInputError(f"{file}: not an OSV record (not a mapping)")
        yield file, record


def store_records(
    folder: Path,
    ecosystem: Ecosystem,
    records: list[dict[str, Any]],
    facts: SourceFacts,
) -> EcosystemSnapshot:
    """Encode compacted ``records`` and store them with their manifest entry and notice."""
    entry = EcosystemSnapshot(
        ecosystem=ecosystem,
        file="",
        sha256="",
        records=len(records),
        source=facts.source,
        source_url=facts.source_url,
        source_commit=facts.commit,
        snapshot_date=facts.date,
        licence=facts.licence,
        attribution=facts.attribution,
    )
    stored = write_ecosystem(folder, entry, encode_records(records))
    (folder / NOTICE_FILE).write_text(render_notice(folder), encoding="utf-8")
    return stored


def build_from_directory(
    source: Path, folder: Path, ecosystem: Ecosystem, facts: SourceFacts
) -> EcosystemSnapshot:
    """Read, compact and store every record of ``source``; copy its LICENSE beside them."""
    osv = OSV_ECOSYSTEM[ecosystem]
    compacted: dict[str, dict[str, Any]] = {}
    for file, record in records_from_directory(source):
        slim = compact_record(record, osv)
        if slim is None:
            continue
        if slim["id"] in compacted:
            raise SupplyChainError(f"{file}: advisory id {clip(slim['id'])} appears twice")
        compacted[slim["id"]] = slim
    if not compacted:
        raise InvalidInputError(f"--source {clip(str(source))}: no record affects {osv}")
    licence = source / LICENCE_FILE
    if licence.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(licence, folder / LICENCE_FILE)
    return store_records(folder, ecosystem, list(compacted.values()), facts)


def render_notice(folder: Path) -> str:
    """The attribution text for every ecosystem in the folder's manifest."""
    lines = [
        "# Advisory data",
        "",
        "The files beside this one are compact copies of public vulnerability advisories in the",
        "OSV format, used to check packages when the OSV API cannot be reached. Each is named in",
        "`manifest.json` with its source, date and SHA-256. Data licence and attribution:",
        "",
    ]
    for eco, entry in sorted(read_manifest(folder).items()):
        commit = f", commit {entry.source_commit}" if entry.source_commit else ""
        lines += [
            f"- {eco} (`{entry.file}`, {entry.records} records): {entry.source}{commit}, "
            f"dated {entry.snapshot_date.isoformat()} ({entry.source_url}). "
            f"Licence: {entry.licence}. {entry.attribution}",
        ]
    if (folder / LICENCE_FILE).is_file():
        lines += ["", f"The licence text is in `{LICENCE_FILE}`."]
    return "\n".join(lines) + "\n"
