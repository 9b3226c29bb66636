"""An offline advisory source: a directory of OSV records, one folder per package.

This is the layout of the Python Packaging Advisory Database (``vulns/<package>/<ID>.yaml``).
YAML is read with the base loader so every scalar stays a string: ``2.10`` must not become the
float ``2.1``. Only the folders of packages actually asked about are read.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from agent_platform.errors import InputFileError, SupplyChainError
from agent_platform.inputs import read_text_bounded
from agent_platform.schemas.supply_chain import OfflineAdvisorySource
from agent_platform.supply_chain.model import Advisory, Ecosystem, SourceInfo
from agent_platform.supply_chain.names import normalize_name
from agent_platform.supply_chain.osv_match import match_record, to_advisory

__all__ = ["OfflineAdvisoryDB"]

_Loader: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


class OfflineAdvisoryDB:
    """Look up advisories for one ecosystem in a local OSV snapshot directory."""

    def __init__(self, source: OfflineAdvisorySource, root: Path) -> None:
        path = Path(source.path)
        self.source = source
        self.path = path if path.is_absolute() else (root / path).resolve()
        self._index: dict[str, Path] | None = None

    @property
    def ecosystem(self) -> Ecosystem:
        return self.source.ecosystem

    @property
    def snapshot_date(self) -> dt.date:
        return self.source.snapshot_date

    @property
    def sha256(self) -> str:
        """Empty: a directory of records has no single hash (the compact snapshot does)."""
        return ""

    @property
    def label(self) -> str:
        """The provenance every figure from this source carries."""
        s = self.source
        return f"{s.name} snapshot {s.snapshot} of {s.snapshot_date.isoformat()}"

    def info(self) -> SourceInfo:
        s = self.source
        return SourceInfo(
            name=s.name,
            kind="offline OSV snapshot",
            location=str(self.path),
            date=s.snapshot_date.isoformat(),
            note=(f"{self.label}; knows nothing published after {s.snapshot_date.isoformat()}"),
            licence=s.licence,
        )

    def available(self) -> bool:
        """Whether the directory exists and holds at least one package folder."""
        return self.unavailable_reason() is None

    def unavailable_reason(self) -> str | None:
        """Why this source cannot be used (None when it can), naming the resolved path.

        An empty directory counts as unusable: looking packages up in it would report every
        one of them as free of advisories, which is a silent pass, not a check.
        """
        where = f"offline advisory directory {self.path} ({self.source.name})"
        if not self.path.exists():
            return f"{where} does not exist (advisories.offline path {self.source.path!r})"
        if not self.path.is_dir():
            return f"{where} is not a directory"
        try:
            folders = self._folders()
        except SupplyChainError as exc:
            return str(exc)
        return None if folders else f"{where} holds no package folders"

    def _folders(self) -> dict[str, Path]:
        if self._index is None:
            try:
                entries = [p for p in self.path.iterdir() if p.is_dir()]
            except OSError as exc:
                raise SupplyChainError(
                    f"offline advisory directory {self.path} cannot be listed: {exc}"
                ) from exc
            self._index = {normalize_name(self.ecosystem, p.name): p for p in entries}
        return self._index

    def lookup(self, name: str, version: str) -> list[Advisory]:
        """Advisories in the snapshot that affect ``name==version``.

        Raises SupplyChainError when the directory or one of the package's records cannot be
        read: the caller marks that package as not checked.
        """
        folder = self._folders().get(normalize_name(self.ecosystem, name))
        if folder is None:
            return []
        found: list[Advisory] = []
        try:
            files = sorted(folder.iterdir())
        except OSError as exc:
            raise SupplyChainError(f"offline advisory folder {folder} cannot be listed") from exc
        for file in files:
            record = _load(file)
            if record is None:
                continue
            how = match_record(record, self.ecosystem, name, version)
            if how is not None:
                found.append(to_advisory(record, self.ecosystem, name, self.label, how))
        return found


def _load(file: Path) -> Mapping[str, Any] | None:
    suffix = file.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        return None
    try:
        text = read_text_bounded(file, what="advisory record")
        data = json.loads(text) if suffix == ".json" else yaml.load(text, Loader=_Loader)
    except (InputFileError, ValueError, yaml.YAMLError) as exc:
        raise SupplyChainError(f"offline advisory {file} is unreadable: {exc}") from exc
    if not isinstance(data, Mapping):
        raise SupplyChainError(f"offline advisory {file} is not an OSV record (not a mapping)")
    return data
