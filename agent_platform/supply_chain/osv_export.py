"""Refresh the advisory snapshot from OSV's public per-ecosystem bulk export.

OSV publishes every record of an ecosystem as one zip of JSON files
(``BASE/PyPI/all.zip``, ``BASE/npm/all.zip``). :func:`update_ecosystem` downloads it to a
temporary file (bounded in size), checks that it is what it claims to be (a real zip, every
member an OSV JSON record, nearly all of them about the ecosystem asked for, and a sane number
of them), converts it to the compact format and swaps it into the snapshot folder atomically.
Where the export cannot be reached, :class:`ExportUnreachableError` says so and nothing changes.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from agent_platform.errors import SupplyChainError
from agent_platform.inputs import clip
from agent_platform.supply_chain.model import OSV_ECOSYSTEM, Ecosystem
from agent_platform.supply_chain.snapshot_build import SourceFacts, store_records
from agent_platform.supply_chain.snapshot_format import (
    EcosystemSnapshot,
    compact_record,
    read_manifest,
)

__all__ = [
    "EXPORT_SOURCE",
    "ExportUnreachableError",
    "export_url",
    "records_from_zip",
    "update_ecosystem",
]

EXPORT_SOURCE = "OSV bulk export"
MAX_DOWNLOAD_BYTES = 2 * 1024**3
MAX_MEMBER_BYTES = 16 * 1024**2
_FOREIGN_TOLERANCE = 0.01


class ExportUnreachableError(SupplyChainError):
    """The bulk export could not be reached at all (no answer: DNS, refused, timeout)."""


def export_url(base_url: str, ecosystem: Ecosystem) -> str:
    return f"{base_url.rstrip('/')}/{OSV_ECOSYSTEM[ecosystem]}/all.zip"


def download(
    url: str, target: Path, *, timeout_s: float, transport: httpx.BaseTransport | None = None
) -> None:
    """Stream ``url`` into ``target``; raises ExportUnreachableError or SupplyChainError."""
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
    try:
        with (
            httpx.Client(timeout=timeout, transport=transport, follow_redirects=True) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise SupplyChainError(f"{url} answered HTTP {response.status_code}")
            _save(response, target, url)
    except httpx.TransportError as exc:
        raise ExportUnreachableError(f"{url} ({type(exc).__name__})") from exc


def _save(response: httpx.Response, target: Path, url: str) -> None:
    size = 0
    with target.open("wb") as handle:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_DOWNLOAD_BYTES:
                raise SupplyChainError(f"{url} sent more than {MAX_DOWNLOAD_BYTES:,} bytes")
            handle.write(chunk)


def records_from_zip(path: Path, ecosystem: Ecosystem) -> list[dict[str, Any]]:
    """Compacted records of a bulk-export zip; SupplyChainError when it is not a sane one."""
    osv = OSV_ECOSYSTEM[ecosystem]
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SupplyChainError(f"the download is not a zip archive ({exc})") from exc
    records: dict[str, dict[str, Any]] = {}
    foreign = 0
    with archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            record = _member(archive, info)
            slim = compact_record(record, osv)
            if slim is None:
                foreign += 1
            else:
                records[slim["id"]] = slim
    total = len(records) + foreign
    if total and foreign / total > _FOREIGN_TOLERANCE:
        raise SupplyChainError(
            f"{foreign} of {total} records in the download affect no {osv} package: "
            f"not the {osv} export"
        )
    return list(records.values())


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Mapping[str, Any]:
    name = clip(info.filename)
    if not info.filename.endswith(".json"):
        raise SupplyChainError(f"zip member {name} is not a .json OSV record")
    if info.file_size > MAX_MEMBER_BYTES:
        raise SupplyChainError(f"zip member {name} is {info.file_size:,} bytes (too large)")
    try:
        with archive.open(info) as handle:
            record = json.loads(handle.read(MAX_MEMBER_BYTES + 1))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise SupplyChainError(f"zip member {name} is not readable JSON ({exc})") from exc
    if not isinstance(record, Mapping) or not isinstance(record.get("id"), str):
        raise SupplyChainError(f"zip member {name} is not an OSV record (no string 'id')")
    if not isinstance(record.get("affected", []), list):
        raise SupplyChainError(f"zip member {name}: 'affected' is not a list")
    return record


def _current(folder: Path, ecosystem: Ecosystem) -> EcosystemSnapshot | None:
    try:
        return read_manifest(folder).get(ecosystem)
    except SupplyChainError:
        return None


def update_ecosystem(
    folder: Path,
    ecosystem: Ecosystem,
    base_url: str,
    *,
    min_records: int,
    timeout_s: float,
    now: dt.datetime,
    transport: httpx.BaseTransport | None = None,
) -> EcosystemSnapshot:
    """Download, verify, convert and swap in one ecosystem's export; returns the new entry.

    The record count must reach ``min_records`` and at least half of the snapshot it replaces
    (a truncated export must not silently shrink what is known). Raises
    ExportUnreachableError (no answer) or SupplyChainError (an answer we refuse); in both
    cases the folder is left as it was.
    """
    url = export_url(base_url, ecosystem)
    with tempfile.TemporaryDirectory(prefix="osv-export-") as tmp:
        archive = Path(tmp) / "all.zip"
        download(url, archive, timeout_s=timeout_s, transport=transport)
        records = records_from_zip(archive, ecosystem)
    current = _current(folder, ecosystem)
    floor = max(min_records, (current.records // 2) if current else 0)
    if len(records) < floor:
        raise SupplyChainError(
            f"{url} holds {len(records)} {OSV_ECOSYSTEM[ecosystem]} records, fewer than the "
            f"{floor} required (--min-records, and half of the current snapshot)"
        )
    facts = SourceFacts(
        source=EXPORT_SOURCE,
        source_url=url,
        commit="",
        date=now.astimezone(dt.UTC).date(),
        licence="the licence of each record's source database (OSV data sources)",
        attribution=(
            "Open Source Vulnerabilities (https://osv.dev); each record keeps the licence and "
            "credit of the database it comes from."
        ),
    )
    return store_records(folder, ecosystem, records, facts)
