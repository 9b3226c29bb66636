"""The compact advisory snapshot: one gzip'd JSON-lines file per ecosystem plus a manifest.

The project ships its own advisory data so a fresh clone can check packages with no network
and nothing beside the checkout. Only the fields the matcher reads are kept (id, aliases, a
one-line summary, severities, the ``affected`` entries of the ecosystem without GIT ranges,
``withdrawn``, ``published`` and ``modified``), records are sorted by id and each is written
with sorted keys, and the gzip header carries no time or name: the same input always gives
byte-identical output, so a rebuild can be checked against the committed file.

``manifest.json`` names, per ecosystem, the data file, its SHA-256, its record count, the source
(database, commit, date) and the licence with its attribution. A data file whose bytes do not
match the manifest is refused when loaded.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent_platform.errors import SupplyChainError
from agent_platform.fileio import write_text_atomic
from agent_platform.inputs import clip

__all__ = [
    "DATA_STEMS",
    "MANIFEST",
    "EcosystemSnapshot",
    "compact_record",
    "encode_records",
    "read_manifest",
    "read_records",
    "write_ecosystem",
]

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
DATA_STEMS: dict[str, str] = {"python": "pypi", "node": "npm"}
_SUMMARY_CHARS = 160


@dataclass(frozen=True)
class EcosystemSnapshot:
    """What the manifest says about one ecosystem's data file."""

    ecosystem: str
    file: str
    sha256: str
    records: int
    source: str
    source_url: str
    source_commit: str
    snapshot_date: dt.date
    licence: str
    attribution: str

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["snapshot_date"] = self.snapshot_date.isoformat()
        return data


def compact_record(record: Mapping[str, Any], osv_ecosystem: str) -> dict[str, Any] | None:
    """The fields of an OSV record the matcher needs, for one ecosystem (None: none apply)."""
    affected = [
        _compact_affected(a)
        for a in record.get("affected") or []
        if isinstance(a, Mapping)
        and isinstance(a.get("package"), Mapping)
        and str(a["package"].get("ecosystem", "")) == osv_ecosystem
    ]
    if not affected or not record.get("id"):
        return None
    out: dict[str, Any] = {"id": str(record["id"]), "affected": affected}
    aliases = [str(a) for a in record.get("aliases") or []]
    if aliases:
        out["aliases"] = aliases
    summary = _summary(record)
    if summary:
        out["summary"] = summary
    severity = [
        {"type": str(s.get("type", "")), "score": str(s.get("score", ""))}
        for s in record.get("severity") or []
        if isinstance(s, Mapping)
    ]
    if severity:
        out["severity"] = severity
    label = _severity_label(record.get("database_specific"))
    if label is not None:
        out["database_specific"] = {"severity": label}
    for key in ("withdrawn", "published", "modified"):
        if record.get(key):
            out[key] = str(record[key])
    return out


def _summary(record: Mapping[str, Any]) -> str:
    lines = str(record.get("summary") or record.get("details") or "").strip().splitlines()
    return lines[0][:_SUMMARY_CHARS] if lines else ""


def _severity_label(block: Any) -> str | None:
    if isinstance(block, Mapping) and block.get("severity") is not None:
        return str(block["severity"])
    return None


def _compact_affected(affected: Mapping[str, Any]) -> dict[str, Any]:
    package = affected["package"]
    out: dict[str, Any] = {
        "package": {"ecosystem": str(package["ecosystem"]), "name": str(package.get("name", ""))}
    }
    ranges = [
        {"type": str(r.get("type", "")), "events": [_event(e) for e in r.get("events") or []]}
        for r in affected.get("ranges") or []
        if isinstance(r, Mapping) and r.get("type") != "GIT"
    ]
    if ranges:
        out["ranges"] = ranges
    versions = [str(v) for v in affected.get("versions") or []]
    if versions:
        out["versions"] = versions
    for key in ("ecosystem_specific", "database_specific"):
        label = _severity_label(affected.get(key))
        if label is not None:
            out[key] = {"severity": label}
    return out


def _event(event: Any) -> dict[str, str]:
    if not isinstance(event, Mapping):
        return {}
    return {str(k): str(v) for k, v in event.items()}


def encode_records(records: Iterable[Mapping[str, Any]]) -> bytes:
    """Deterministic gzip'd JSON lines: sorted by id, sorted keys, no time in the header."""
    ordered = sorted(records, key=lambda r: str(r["id"]))
    text = "".join(
        json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"
        for r in ordered
    )
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("ascii"))
    return buffer.getvalue()


def read_manifest(folder: Path) -> dict[str, EcosystemSnapshot]:
    """The manifest of ``folder`` by ecosystem; SupplyChainError when missing or malformed."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SupplyChainError(f"advisory snapshot manifest {path} does not exist") from exc
    except (OSError, ValueError) as exc:
        raise SupplyChainError(f"advisory snapshot manifest {path} is unreadable: {exc}") from exc
    if not isinstance(data, Mapping) or data.get("format") != FORMAT_VERSION:
        raise SupplyChainError(
            f"advisory snapshot manifest {path}: format {clip(_get(data, 'format'))} "
            f"is not {FORMAT_VERSION}"
        )
    entries = data.get("ecosystems")
    if not isinstance(entries, Mapping):
        raise SupplyChainError(f"advisory snapshot manifest {path}: 'ecosystems' is not a map")
    return {str(eco): _entry(path, str(eco), entry) for eco, entry in entries.items()}


def _get(data: Any, key: str) -> Any:
    return data.get(key) if isinstance(data, Mapping) else data


def _entry(path: Path, ecosystem: str, entry: Any) -> EcosystemSnapshot:
    try:
        return EcosystemSnapshot(
            ecosystem=ecosystem,
            file=str(entry["file"]),
            sha256=str(entry["sha256"]),
            records=int(entry["records"]),
            source=str(entry["source"]),
            source_url=str(entry.get("source_url", "")),
            source_commit=str(entry.get("source_commit", "")),
            snapshot_date=dt.date.fromisoformat(str(entry["snapshot_date"])),
            licence=str(entry["licence"]),
            attribution=str(entry["attribution"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SupplyChainError(
            f"advisory snapshot manifest {path}: ecosystems.{ecosystem} is malformed ({exc!r})"
        ) from exc


def read_records(folder: Path, entry: EcosystemSnapshot) -> list[dict[str, Any]]:
    """The records of one ecosystem, after checking the file against the manifest's hash."""
    path = folder / entry.file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SupplyChainError(f"advisory snapshot file {path} is unreadable: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise SupplyChainError(
            f"advisory snapshot file {path} has SHA-256 {digest[:12]}…, the manifest says "
            f"{entry.sha256[:12]}…: the file was changed or damaged"
        )
    try:
        lines = gzip.decompress(data).decode("utf-8").splitlines()
        records = [json.loads(line) for line in lines if line]
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise SupplyChainError(f"advisory snapshot file {path} is not gzip'd JSON lines") from exc
    if not all(isinstance(r, dict) for r in records):
        raise SupplyChainError(f"advisory snapshot file {path} holds a line that is not a record")
    return records


def write_ecosystem(folder: Path, entry: EcosystemSnapshot, data: bytes) -> EcosystemSnapshot:
    """Store one ecosystem's data file and its manifest entry; returns the stored entry.

    The data file's name carries its hash, so the new file is written beside the old one,
    then the manifest is replaced (atomically) to point at it, then the old file is removed:
    a reader sees the old pair or the new pair, never a manifest naming a file that does not
    match it.
    """
    digest = hashlib.sha256(data).hexdigest()
    name = f"{DATA_STEMS[entry.ecosystem]}-{digest[:16]}.jsonl.gz"
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f".{name}.tmp"
    staged.write_bytes(data)
    os.chmod(staged, 0o644)
    staged.replace(folder / name)
    stored = EcosystemSnapshot(**{**asdict(entry), "file": name, "sha256": digest})
    manifest = _manifest_data(folder)
    previous = manifest["ecosystems"].get(entry.ecosystem, {}).get("file")
    manifest["ecosystems"][entry.ecosystem] = stored.as_json()
    write_text_atomic(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if isinstance(previous, str) and previous != name and "/" not in previous:
        (folder / previous).unlink(missing_ok=True)
    return stored


def _manifest_data(folder: Path) -> dict[str, Any]:
    try:
        current = {eco: e.as_json() for eco, e in read_manifest(folder).items()}
    except SupplyChainError:
        current = {}
    return {"format": FORMAT_VERSION, "ecosystems": dict(sorted(current.items()))}
