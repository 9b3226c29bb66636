"""The package-reality report: ``pkg_reality_report.md`` and its JSON twin, from run values.

Every figure in the report is read off the :class:`VerificationRun` values of this run; the
report names each data source and its date, and the offline advisory snapshot's cut-off.
Both files are written atomically (temporary file, then rename) so a crash never leaves a
half-written report that looks complete.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agent_platform.fileio import write_text_atomic
from agent_platform.supply_chain.model import PackageResult, VerificationRun

__all__ = [
    "advisory_sources",
    "javascript_note",
    "overall_status",
    "registry_cache_hits",
    "render_markdown",
    "report_json",
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
    lines += _summary(runs)
    by_eco = {r.ecosystem: r for r in runs}
    for eco in ("python", "node"):
        lines += [f"## {_TITLES[eco]}", ""]
        run = by_eco.get(eco)
        lines += _package_table(run) if run else [missing.get(eco, "Not verified in this run."), ""]
    lines += _vulnerabilities(runs)
    return "\n".join(lines).rstrip() + "\n"


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


def report_json(runs: Sequence[VerificationRun], missing: Mapping[str, str]) -> dict[str, Any]:
    """The JSON twin: the same figures as the Markdown, plus every per-package detail."""
    return {
        "status": overall_status(runs),
        "total": sum(r.total for r in runs),
        "verified": sum(r.verified for r in runs),
        "unverified": sum(r.unverified for r in runs),
        "vulnerabilities": sum(r.vulnerabilities for r in runs),
        "blocking_vulnerabilities": sum(r.blocking_vulnerabilities for r in runs),
        "advisory_sources": advisory_sources(runs),
        "execution_seconds": round(sum(r.seconds for r in runs), 3),
        "registry_cache_hits": sum(registry_cache_hits(r) for r in runs),
        "not_run": dict(missing),
        "runs": [_run_json(r) for r in runs],
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
