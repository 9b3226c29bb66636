"""The package-reality report: ``pkg_reality_report.md`` and its JSON twin, from run values.

Every figure in the report is read off the :class:`VerificationRun` values of this run; the
report names each data source and its date, and the offline advisory snapshot's cut-off. Its
headline says how old the offline advisory data is against the staleness policy and how many
packages are newer than it. Both files are written atomically (temporary file, then rename) so a
crash never leaves a half-written report that looks complete.

:func:`count_blocking` is the one computation of "vulnerabilities at or above the threshold"
over the JSON package records: the report's summary uses it, and so does the gate when it reads
the report back, so the two can never disagree.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agent_platform.fileio import write_text_atomic
from agent_platform.supply_chain.model import PackageResult, SnapshotUse, VerificationRun

__all__ = [
    "advisory_sources",
    "count_blocking",
    "headline",
    "javascript_note",
    "overall_status",
    "registry_cache_hits",
    "render_markdown",
    "report_json",
    "snapshot_summary",
    "write_report",
]

_TITLES = {"python": "Python Dependencies", "node": "JavaScript Dependencies"}


def javascript_note(root: Path) -> str:
    """What to say about JavaScript when no npm lockfile was verified in this run."""
    lock = root / "package-lock.json"
    if lock.exists():
        return f"`{lock.name}` exists at the project root but was not verified in this run."
    if (root / "package.json").exists():
        return (
            "The project has a `package.json` but no `package-lock.json`: nothing pinned to verify."
        )
    return (
        "This project has no JavaScript dependencies: there is no `package.json` or "
        "`package-lock.json` at the project root."
    )


def overall_status(runs: Sequence[VerificationRun]) -> str:
    return "PASS" if runs and all(r.passed for r in runs) else "FAIL"


def render_markdown(runs: Sequence[VerificationRun], missing: Mapping[str, str]) -> str:
    """The Markdown report; ``missing`` says, per ecosystem not run, why it is absent."""
    lines = ["# Package Reality Report", ""]
    for i, line in enumerate(headline(runs)):
        lines += [f"**{line}**" if i == 0 else line, ""]
    lines += _summary(runs)
    by_eco = {r.ecosystem: r for r in runs}
    for eco in ("python", "node"):
        lines += [f"## {_TITLES[eco]}", ""]
        run = by_eco.get(eco)
        lines += _package_table(run) if run else [missing.get(eco, "Not verified in this run."), ""]
    lines += _vulnerabilities(runs)
    return "\n".join(lines).rstrip() + "\n"


def headline(runs: Sequence[VerificationRun]) -> list[str]:
    """The report's first lines: the verdict, the advisory data's age, and lockfile findings."""
    blocking = sum(r.blocking_vulnerabilities for r in runs)
    uses = _uses(runs)
    stale = [u for u in uses if u.stale]
    warning = (
        f" Warning: the offline advisory data is {max(u.age_days for u in stale)} days old."
        if stale
        else ""
    )
    lines = [
        f"{overall_status(runs)}: {sum(r.total for r in runs)} packages, "
        f"{sum(r.unverified for r in runs)} unverified, {blocking} vulnerabilities at or above "
        f"the threshold.{warning}"
    ]
    for use in uses:
        lines.append(f"Advisory data: {use.describe()}.")
        if use.stale and use.on_stale == "warn":
            lines.append(
                f"Advisories published after {use.date.isoformat()} are not known to this run; "
                "refresh with `agent-platform advisories update`."
            )
    if uses:
        newer = sum(r.newer_than_snapshot for r in runs)
        lines.append(f"Packages released after the advisory data that checked them: {newer}.")
    else:
        lines.append(f"Advisory data: {advisory_sources(runs)}.")
    findings = [f for r in runs for f in r.lockfile_findings]
    if findings:
        failing = sum(f.level == "fail" for f in findings)
        lines.append(f"Lockfile findings: {len(findings)} ({failing} failing the run).")
    return lines


def _uses(runs: Sequence[VerificationRun]) -> list[SnapshotUse]:
    return list({u.label: u for r in runs for u in r.snapshots}.values())


def snapshot_summary(runs: Sequence[VerificationRun]) -> dict[str, Any] | None:
    """The offline advisory data the runs relied on, as report figures (None: none was)."""
    uses = _uses(runs)
    if not uses:
        return None
    return {
        "label": "; ".join(u.label for u in uses),
        "date": min(u.date for u in uses).isoformat(),
        "age_days": max(u.age_days for u in uses),
        "sha256": "; ".join(u.sha256 or "not hashed" for u in uses),
        "max_age_days": min(u.max_age_days for u in uses),
        "on_stale": ", ".join(sorted({u.on_stale for u in uses})),
        "stale": any(u.stale for u in uses),
    }


def _summary(runs: Sequence[VerificationRun]) -> list[str]:
    total = sum(r.total for r in runs)
    lines = [
        "## Verification Summary",
        "",
        "| Metric | Value |",
        "|---|---|",
        f"| Status | **{overall_status(runs)}** |",
        f"| Lockfiles | {', '.join(f'`{r.lockfile}` ({r.ecosystem})' for r in runs)} |",
        f"| Total packages | {total} |",
        f"| Verified | {sum(r.verified for r in runs)} |",
        f"| Unverified | {sum(r.unverified for r in runs)} |",
        f"| Vulnerabilities (advisories affecting a locked version) | {sum(r.vulnerabilities for r in runs)} "
        f"(source: {advisory_sources(runs)}) |",
        f"| Vulnerabilities at or above threshold | {sum(r.blocking_vulnerabilities for r in runs)} |",
        *_snapshot_rows(runs),
        f"| Lockfile findings | {_lockfile_cell(runs)} |",
        f"| Execution time | {sum(r.seconds for r in runs):.2f} s |",
        f"| Started (UTC) | {min(r.started_at for r in runs).strftime('%Y-%m-%dT%H:%M:%SZ')} |",
    ]
    if runs:
        run = runs[0]
        lines.append(
            f"| Policy | severity threshold {run.severity_threshold}; unknown severity: "
            f"{run.unknown_severity}; minimum release age {run.min_release_age_days:g} days |"
        )
    lines += ["", "Sources consulted in this run:", ""]
    for run in runs:
        for src in run.sources:
            extra = f"; {src.note}" if src.note else ""
            licence = f"; licence {src.licence}" if src.licence else ""
            lines.append(
                f"- {src.name} ({src.kind}, {src.location}), dated {src.date}{extra}{licence}"
            )
    lines += _reason_counts(runs)
    notes = [note for run in runs for note in run.notes]
    if notes:
        lines += ["", "Notes:", "", *[f"- {note}" for note in notes]]
    return [*lines, ""]


def _snapshot_rows(runs: Sequence[VerificationRun]) -> list[str]:
    facts = snapshot_summary(runs)
    if facts is None:
        return ["| Offline advisory data | not used in this run |"]
    stale = "yes" if facts["stale"] else "no"
    return [
        f"| Offline advisory data | {_cell(facts['label'], 160)} |",
        f"| Advisory data date | {facts['date']} ({facts['age_days']} days old; stale: {stale}, "
        f"at most {facts['max_age_days']} days allowed, on stale: {facts['on_stale']}) |",
        f"| Advisory data SHA-256 | {facts['sha256']} |",
        f"| Packages newer than the advisory data | {sum(r.newer_than_snapshot for r in runs)} |",
    ]


def _lockfile_cell(runs: Sequence[VerificationRun]) -> str:
    findings = [f for r in runs for f in r.lockfile_findings]
    if not findings:
        return "none"
    return _cell("; ".join(f"{f.level}: {f.message}" for f in findings), 600)


def _reason_counts(runs: Sequence[VerificationRun]) -> list[str]:
    findings = [f for r in runs for p in r.results for f in p.findings]
    lines: list[str] = []
    for level, title in (
        ("fail", "Unverified packages by reason"),
        ("warn", "Warnings (do not fail)"),
    ):
        counts = Counter(f.kind for f in findings if f.level == level)
        if counts:
            lines += ["", f"{title}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
    return lines


def registry_cache_hits(run: VerificationRun) -> int:
    """How many of the run's registry answers came from the on-disk cache."""
    return sum(r.registry.from_cache for r in run.results)


def advisory_sources(runs: Sequence[VerificationRun]) -> str:
    """The advisory sources actually used, each with its date, for every advisory figure."""
    used = sorted({p.advisories.source for r in runs for p in r.results if p.advisories.checked})
    return "; ".join(used) or "none: advisories were not checked"


def _package_table(run: VerificationRun) -> list[str]:
    lines = [
        f"`{run.lockfile}`: {run.total} packages, {run.verified} verified, {run.unverified} unverified.",
        "",
        "| Package | Version | Status | Released | Advisories | Notes |",
        "|---|---|---|---|---|---|",
    ]
    if not run.results:
        return [*lines[:1], "", "The lockfile pins no packages.", ""]
    lines += [
        _row(r) for r in sorted(run.results, key=lambda r: (r.package.name, r.package.version))
    ]
    return [*lines, ""]


def _row(result: PackageResult) -> str:
    pkg = result.package
    release = result.registry.release
    released = release.upload_time.date().isoformat() if release and release.upload_time else "-"
    status = "verified" if result.verified else "**UNVERIFIED**"
    if not result.advisories.checked:
        advisories = "not checked"
    else:
        advisories = ", ".join(a.id for a in result.advisories.advisories) or "none"
    notes = "; ".join(f"{f.level}: {f.message}" for f in result.findings) or ""
    return f"| {pkg.name} | {pkg.version} | {status} | {released} | {advisories} | {_cell(notes)} |"


def _cell(text: str, limit: int = 220) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _vulnerabilities(runs: Sequence[VerificationRun]) -> list[str]:
    lines = ["## Vulnerability Scan Results", ""]
    for run in runs:
        names = sorted({p.advisories.source for p in run.results if p.advisories.checked})
        unchecked = sum(1 for p in run.results if not p.advisories.checked)
        lines.append(
            f"- {run.ecosystem}: advisories from {', '.join(names) or 'no source'}; "
            f"{run.total - unchecked} packages checked, {unchecked} not checked."
        )
    rows = [(p, a) for r in runs for p in r.results for a in p.advisories.advisories]
    lines += _source_caveats(runs)
    lines.append("")
    if not rows:
        lines += ["No advisory from the sources above affects a locked version.", ""]
        return lines
    lines += [
        "| Package | Version | Advisory | Aliases | Severity | Fixed in | Blocks | Source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for pkg, adv in rows:
        blocks = "yes" if adv.id in pkg.blocking_advisories else "no"
        lines.append(
            f"| {pkg.package.name} | {pkg.package.version} | {adv.id} | {_cell(', '.join(adv.aliases), 60)} "
            f"| {adv.severity} ({adv.severity_basis}) | {', '.join(adv.fixed) or '-'} | {blocks} "
            f"| {_cell(adv.source, 120)} |"
        )
    return [*lines, ""]


def _source_caveats(runs: Sequence[VerificationRun]) -> list[str]:
    caveats: list[str] = []
    for src in {s.name: s for r in runs for s in r.sources if s.kind != "registry"}.values():
        credit = f" Data: {src.name}, licence {src.licence}." if src.licence else ""
        caveats.append(f"- {src.name} ({src.kind}): {src.note or 'dated ' + src.date}.{credit}")
    return caveats


def count_blocking(records: Sequence[Mapping[str, Any]]) -> int:
    """Vulnerabilities at or above the threshold over JSON package records (the report's and
    the gate's one computation)."""
    return sum(len(r.get("blocking_advisories") or []) for r in records)


def report_json(runs: Sequence[VerificationRun], missing: Mapping[str, str]) -> dict[str, Any]:
    """The JSON twin: the same figures as the Markdown, plus every per-package detail."""
    run_docs = [_run_json(r) for r in runs]
    records = [p for doc in run_docs for p in doc["packages"]]
    return {
        "status": overall_status(runs),
        "total": sum(r.total for r in runs),
        "verified": sum(r.verified for r in runs),
        "unverified": sum(r.unverified for r in runs),
        "vulnerabilities": sum(r.vulnerabilities for r in runs),
        "blocking_vulnerabilities": count_blocking(records),
        "advisory_sources": advisory_sources(runs),
        "advisory_snapshot": snapshot_summary(runs),
        "packages_newer_than_snapshot": sum(r.newer_than_snapshot for r in runs),
        "lockfile_findings": sum(len(r.lockfile_findings) for r in runs),
        "headline": headline(runs),
        "execution_seconds": round(sum(r.seconds for r in runs), 3),
        "registry_cache_hits": sum(registry_cache_hits(r) for r in runs),
        "not_run": dict(missing),
        "runs": run_docs,
    }


def _run_json(run: VerificationRun) -> dict[str, Any]:
    return {
        "ecosystem": run.ecosystem,
        "lockfile": run.lockfile,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "seconds": round(run.seconds, 3),
        "total": run.total,
        "verified": run.verified,
        "unverified": run.unverified,
        "vulnerabilities": run.vulnerabilities,
        "blocking_vulnerabilities": run.blocking_vulnerabilities,
        "severity_threshold": run.severity_threshold,
        "unknown_severity": run.unknown_severity,
        "min_release_age_days": run.min_release_age_days,
        "registry_cache_hits": registry_cache_hits(run),
        "sources": [vars(s) for s in run.sources],
        "advisory_snapshots": [
            vars(u) | {"date": u.date.isoformat(), "stale": u.stale} for u in run.snapshots
        ],
        "lockfile_findings": [vars(f) for f in run.lockfile_findings],
        "notes": list(run.notes),
        "packages": [_package_json(p) for p in run.results],
    }


def _package_json(result: PackageResult) -> dict[str, Any]:
    release = result.registry.release
    return {
        "name": result.package.name,
        "version": result.package.version,
        "location": result.package.location,
        "marker": result.package.marker,
        "verified": result.verified,
        "registry": {
            "outcome": result.registry.outcome,
            "detail": result.registry.detail,
            "from_cache": result.registry.from_cache,
            "upload_time": release.upload_time.isoformat()
            if release and release.upload_time
            else None,
            "yanked": release.yanked if release else None,
        },
        "findings": [vars(f) for f in result.findings],
        "advisory_check": {
            "checked": result.advisories.checked,
            "source": result.advisories.source,
            "error": result.advisories.error,
            "snapshot_date": result.advisories.snapshot_date.isoformat()
            if result.advisories.snapshot_date
            else None,
            "advisories": [
                vars(a) | {"aliases": list(a.aliases), "fixed": list(a.fixed)}
                for a in result.advisories.advisories
            ],
        },
        "blocking_advisories": list(result.blocking_advisories),
    }


def write_report(
    runs: Sequence[VerificationRun], output: Path, missing: Mapping[str, str]
) -> tuple[Path, Path]:
    """Write ``output`` (Markdown) and its JSON twin (same stem, ``.json``); return both paths."""
    twin = output.with_suffix(".json")
    write_text_atomic(output, render_markdown(runs, missing))
    write_text_atomic(twin, json.dumps(report_json(runs, missing), indent=2, sort_keys=True) + "\n")
    return output, twin
