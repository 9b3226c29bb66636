"""``agent-platform advisories show|update|build``: the project's own advisory snapshot.

``show`` prints what the snapshot holds (source, date, age against the staleness policy,
SHA-256). ``update`` refreshes it from OSV's public bulk export where the internet is reachable;
where it is not, it says so in one line and keeps the snapshot. ``build`` (also
``scripts/build_advisory_snapshot.py``) makes it from a directory of OSV records, such as a
checkout of the Python Packaging Advisory Database.

Exit codes of ``update``: 0 every ecosystem asked for was updated; 1 not updated (the export was
unreachable, or its download was refused as not a sane export), the current snapshot is kept;
2 bad input (arguments, config, a snapshot folder that cannot be written).

``update`` writes the folder named by ``advisories.snapshot.dir`` (default: the snapshot inside
the package). In a checkout that is a tracked folder: commit the refreshed files to share them,
or point ``snapshot.dir`` at a folder of your own to keep the refresh local.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent_platform.config import project_root
from agent_platform.errors import InvalidInputError, SupplyChainError
from agent_platform.inputs import clip
from agent_platform.supply_chain.advisories import snapshot_folder
from agent_platform.supply_chain.model import Ecosystem
from agent_platform.supply_chain.osv_export import (
    ExportUnreachableError,
    export_url,
    update_ecosystem,
)
from agent_platform.supply_chain.snapshot import PACKAGED_SNAPSHOT, snapshot_label
from agent_platform.supply_chain.snapshot_build import SourceFacts, build_from_directory
from agent_platform.supply_chain.snapshot_format import EcosystemSnapshot, read_manifest
from agent_platform.supply_chain.verify import DEFAULT_CONFIG, load_supply_chain_config

__all__ = [
    "add_build_arguments",
    "build_snapshot_main",
    "register",
    "run_build",
    "run_show",
    "run_update",
]

_PYPA = {
    "name": "Python Packaging Advisory Database",
    "url": "https://github.com/pypa/advisory-database",
    "licence": "CC-BY 4.0",
    "attribution": (
        "Python Packaging Advisory Database (https://github.com/pypa/advisory-database), "
        "licensed under CC-BY 4.0; records reduced to the fields the package check reads."
    ),
}


def register(subparsers: Any) -> None:
    """Add the ``advisories`` command group."""
    parser = subparsers.add_parser("advisories", help="the offline advisory snapshot")
    verbs = parser.add_subparsers(dest="advisories_command", required=True, metavar="VERB")
    show = verbs.add_parser("show", help="source, date, age and hash of the snapshot")
    _add_common(show)
    show.set_defaults(handler=run_show)
    update = verbs.add_parser("update", help="refresh the snapshot from OSV's bulk export")
    _add_common(update)
    update.add_argument("--ecosystem", choices=("python", "node", "all"), default="all")
    update.add_argument("--base-url", help="bulk export base URL (default: from the config)")
    update.add_argument(
        "--min-records",
        type=int,
        default=1000,
        help="refuse an export with fewer records than this (default 1000)",
    )
    update.set_defaults(handler=run_update)
    build = verbs.add_parser("build", help="build the snapshot from a directory of OSV records")
    add_build_arguments(build)
    build.set_defaults(handler=run_build)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=project_root() / DEFAULT_CONFIG)
    parser.add_argument(
        "--dir", type=Path, default=None, help="snapshot folder (default: from the config)"
    )


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``advisories build`` / ``scripts/build_advisory_snapshot.py``."""
    parser.add_argument("--source", type=Path, required=True, help="folder of OSV records")
    parser.add_argument(
        "--dir", type=Path, default=None, help="snapshot folder (default: the packaged one)"
    )
    parser.add_argument("--ecosystem", choices=("python", "node"), default="python")
    parser.add_argument("--commit", help="source commit (default: read with git from --source)")
    parser.add_argument("--date", help="source date YYYY-MM-DD (default: the commit's date)")
    parser.add_argument("--name", default=_PYPA["name"], help="source database name")
    parser.add_argument("--url", default=_PYPA["url"], help="source database address")
    parser.add_argument("--licence", default=_PYPA["licence"])
    parser.add_argument("--attribution", default=_PYPA["attribution"])


def _folder(args: argparse.Namespace) -> Path:
    if args.dir is not None:
        return Path(args.dir)
    config = load_supply_chain_config(args.config)
    return snapshot_folder(config.advisories.snapshot, project_root())


def _describe(entry: EcosystemSnapshot, today: dt.date) -> dict[str, Any]:
    return entry.as_json() | {
        "label": snapshot_label(entry),
        "age_days": (today - entry.snapshot_date).days,
    }


def run_show(args: argparse.Namespace) -> int:
    """Print each ecosystem's snapshot facts; exit 1 when the snapshot cannot be read."""
    folder = _folder(args)
    config = load_supply_chain_config(args.config).advisories
    today = dt.datetime.now(dt.UTC).date()
    entries = {eco: _describe(e, today) for eco, e in sorted(read_manifest(folder).items())}
    for eco, facts in entries.items():
        stale = facts["age_days"] > config.max_advisory_age_days
        verdict = "STALE" if stale else "current"
        args.output.say(
            f"{eco}: {facts['label']}, {facts['records']} records, {facts['age_days']} days "
            f"old ({verdict}: at most {config.max_advisory_age_days} allowed, on stale: "
            f"{config.on_stale_advisories}), sha256 {facts['sha256']}"
        )
    args.output.result(
        {
            "folder": str(folder),
            "max_advisory_age_days": config.max_advisory_age_days,
            "on_stale_advisories": config.on_stale_advisories,
            "ecosystems": entries,
        }
    )
    return 0


def _kept(folder: Path, today: dt.date) -> str:
    try:
        entries = read_manifest(folder)
    except SupplyChainError as exc:
        return f"kept the current snapshot folder as it is ({exc})"
    parts = [
        f"{eco}: {snapshot_label(e)}, {(today - e.snapshot_date).days} days old"
        for eco, e in sorted(entries.items())
    ]
    return "kept the current snapshot (" + "; ".join(parts) + ")"


def run_update(args: argparse.Namespace) -> int:
    """Update each ecosystem asked for; one line and exit 1 when the export is unreachable."""
    config = load_supply_chain_config(args.config).advisories
    folder = _folder(args)
    base = args.base_url or config.bulk_export_url
    if args.min_records < 1:
        raise InvalidInputError(f"--min-records {args.min_records}: allowed: 1 or more")
    wanted: list[Ecosystem] = ["python", "node"] if args.ecosystem == "all" else [args.ecosystem]
    now = dt.datetime.now(dt.UTC)
    updated: dict[str, dict[str, Any]] = {}
    refused: dict[str, str] = {}
    for eco in wanted:
        try:
            entry = update_ecosystem(
                folder,
                eco,
                base,
                min_records=args.min_records,
                timeout_s=config.bulk_export_timeout_s,
                now=now,
            )
        except ExportUnreachableError as exc:
            line = f"advisories update: OSV bulk export not reachable: {exc}; "
            line += _kept(folder, now.date())
            args.output.say(line)
            result = _update_result(folder, updated, refused, reachable=False)
            args.output.result(result | {"message": line})
            return 1
        except SupplyChainError as exc:
            refused[eco] = str(exc)
            args.output.say(f"advisories update: {eco}: not updated: {exc}")
            continue
        except OSError as exc:
            raise InvalidInputError(f"snapshot folder {folder} cannot be written: {exc}") from exc
        updated[eco] = _describe(entry, now.date())
        args.output.say(
            f"advisories update: {eco}: {entry.records} records from {export_url(base, eco)}, "
            f"sha256 {entry.sha256}, in {folder / entry.file}"
        )
    args.output.result(_update_result(folder, updated, refused, reachable=True))
    return 1 if refused else 0


def _update_result(
    folder: Path, updated: dict[str, Any], refused: dict[str, str], *, reachable: bool
) -> dict[str, Any]:
    return {
        "folder": str(folder),
        "reachable": reachable,
        "updated": updated,
        "not_updated": refused,
    }


def _git(source: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(source), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _git_facts(source: Path) -> tuple[str, str]:
    """(commit, YYYY-MM-DD) when ``source`` is the top of a git checkout.

    A folder inside some other checkout does not count: its commit is not the source's.
    """
    top = _git(source, "rev-parse", "--show-toplevel")
    facts = (_git(source, "log", "-1", "--format=%H %cs") or "").split()
    if top is None or Path(top).resolve() != source.resolve() or len(facts) != 2:
        raise InvalidInputError(
            f"--source {clip(str(source))} is not the top of a git checkout: "
            "give --commit and --date"
        )
    return facts[0], facts[1]


def run_build(args: argparse.Namespace) -> int:
    """Build the snapshot of one ecosystem from ``--source``."""
    commit, date = args.commit, args.date
    if not commit or not date:
        found_commit, found_date = _git_facts(args.source)
        commit, date = commit or found_commit, date or found_date
    try:
        when = dt.date.fromisoformat(date)
    except ValueError as exc:
        raise InvalidInputError(f"--date {clip(date)}: allowed: a date YYYY-MM-DD") from exc
    facts = SourceFacts(
        source=args.name,
        source_url=args.url,
        commit=commit,
        date=when,
        licence=args.licence,
        attribution=args.attribution,
    )
    folder = args.dir or PACKAGED_SNAPSHOT
    entry = build_from_directory(args.source, Path(folder), args.ecosystem, facts)
    args.output.say(
        f"advisory snapshot: {args.ecosystem}: {entry.records} records from {args.source} "
        f"({snapshot_label(entry)}) -> {Path(folder) / entry.file}, sha256 {entry.sha256}"
    )
    args.output.result(
        {"folder": str(folder), "ecosystem": args.ecosystem, "entry": entry.as_json()}
    )
    return 0


def build_snapshot_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``scripts/build_advisory_snapshot.py``."""
    from agent_platform.commands.supply_chain import script_main

    return script_main("build_advisory_snapshot.py", add_build_arguments, run_build, argv)
