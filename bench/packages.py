"""Package-verification benchmark: our verifier against pip-audit on the same lockfile, same run.

Run as ``uv run python -m bench.packages [--lockfile requirements.lock] [--repeats 3]``. Both
tools get one untimed warm-up run (ours fills its registry cache, pip-audit its HTTP cache), then
``--repeats`` rounds of one timed run each, back to back; :func:`bench._harness.repeat_median`
reports each timing as the median over the rounds with its spread (max - min) and every value.
The last line printed is a JSON object:

- ``seconds`` / ``cold_seconds``: our verification with a warm cache (median) / with an empty
  one (the warm-up run uses a fresh temporary cache directory, so it is genuinely cold);
- ``pip_audit_seconds``: ``pip-audit -r LOCK --disable-pip`` (a fully hashed file needs no
  ``--no-deps``: pip-audit 2.10 accepts ``--disable-pip`` alone when every line is hashed);
- ``ratio_vs_pip_audit``: the median over the rounds of ``seconds / pip_audit_seconds`` of the
  same round (target <= 1.0), with ``_spread`` and ``_runs`` for it and both timings;
- ``advisory_snapshot``: the date, age and SHA-256 of the offline advisory data when it was used;
- ``packages``, ``verified``, ``unverified``, ``vulnerabilities``, ``advisory_sources``;
- ``pip_audit_packages``, ``pip_audit_skipped`` (dependencies pip-audit could not audit, from its
  JSON ``skip_reason`` entries), ``pip_audit_audited``, ``pip_audit_skip_reasons`` (each distinct
  reason with its count), ``pip_audit_exit_code``;
- ``ratio_comparable`` (bool) and ``ratio_comparable_reason``: whether the two timed runs did the
  same work. They did only when pip-audit audited every dependency it listed, exited normally
  and listed as many dependencies as we verified; otherwise the raw ratio compares a full
  verification with a run that skipped its look-ups, and the reason says exactly how;
- ``comparable_ratio_vs_pip_audit``: the ratio when ``ratio_comparable`` holds, else
  ``NOT_MEASURED`` (no honest like-for-like figure exists then).

pip-audit looks packages up through PyPI's per-version JSON endpoint, which does not answer on
every network; when it does not, pip-audit skips those packages (and still exits 0). That is
reported as measured, not hidden. Anything not measured is ``NOT_MEASURED``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker

from agent_platform.config import project_root
from agent_platform.supply_chain import PackageVerifier, VerificationRun, load_supply_chain_config
from bench._harness import emit, ratio, repeat_median

__all__ = [
    "NOT_MEASURED",
    "applicable_packages",
    "audit_result",
    "comparability",
    "main",
    "pip_audit_figures",
]

NOT_MEASURED = "NOT_MEASURED"


def _ours(lockfile: Path, cache_dir: Path) -> VerificationRun:
    config = load_supply_chain_config()
    cache = config.cache.model_copy(update={"enabled": True, "dir": str(cache_dir)})
    verifier = PackageVerifier(config.model_copy(update={"cache": cache}), root=project_root())
    return verifier.verify_lockfile(lockfile, "python")


def _pip_audit(lockfile: Path) -> dict[str, Any]:
    """One pip-audit run: seconds, exit code and its JSON output (or why there is none)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pip_audit.json"
        command = [
            sys.executable,
            "-m",
            "pip_audit",
            "-r",
            str(lockfile),
            "--disable-pip",
            "--progress-spinner",
            "off",
            "-f",
            "json",
            "-o",
            str(out),
        ]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        seconds = time.perf_counter() - started
        data = json.loads(out.read_text()) if out.exists() else None
    return {
        "seconds": seconds,
        "exit_code": done.returncode,
        "data": data,
        "stderr_tail": done.stderr.strip().splitlines()[-1:] if done.stderr else [],
    }


def pip_audit_figures(result: dict[str, Any]) -> dict[str, Any]:
    data = result["data"]
    if not isinstance(data, dict):
        return {
            "pip_audit_packages": NOT_MEASURED,
            "pip_audit_skipped": NOT_MEASURED,
            "pip_audit_audited": NOT_MEASURED,
            "pip_audit_skip_reasons": NOT_MEASURED,
            "pip_audit_vulnerabilities": NOT_MEASURED,
        }
    deps = data.get("dependencies", [])
    skipped = [d for d in deps if "skip_reason" in d]
    return {
        "pip_audit_packages": len(deps),
        "pip_audit_skipped": len(skipped),
        "pip_audit_audited": len(deps) - len(skipped),
        "pip_audit_skip_reasons": _skip_reasons(skipped),
        "pip_audit_vulnerabilities": sum(len(d.get("vulns", [])) for d in deps),
    }


def _skip_reasons(skipped: list[dict[str, Any]]) -> dict[str, int]:
    """Distinct skip reasons with their counts (the per-package "NAME (VERSION)" tail dropped)."""
    counts: Counter[str] = Counter()
    for dep in skipped:
        reason = str(dep.get("skip_reason", ""))
        name = str(dep.get("name", ""))
        counts[reason.split(f": {name} (")[0] if name else reason] += 1
    return dict(counts.most_common())


def comparability(
    packages: int, audit: dict[str, Any], exit_code: int | str, *, applicable: int | None = None
) -> tuple[bool, str]:
    """Whether our run and pip-audit's did the same work, and the reason either way.

    ``audit`` holds the ``pip_audit_*`` figures; ``packages`` is how many pinned lines we
    verified and ``applicable`` how many distinct packages among them have environment markers
    that match this interpreter (None: not computed).
    """
    listed, skipped = audit["pip_audit_packages"], audit["pip_audit_skipped"]
    if not isinstance(listed, int) or not isinstance(skipped, int):
        return False, "pip-audit produced no JSON report, so nothing it did can be compared"
    problems: list[str] = []
    if skipped:
        why = "; ".join(f"{n} x {r}" for r, n in audit["pip_audit_skip_reasons"].items())
        problems.append(
            f"pip-audit skipped {skipped} of {listed} dependencies ({why}) and audited "
            f"{listed - skipped}, so its time covers no advisory look-up for the skipped ones "
            f"while ours covers a registry and advisory check of all {packages}"
        )
    if exit_code not in (0, 1):
        problems.append(f"pip-audit exited {exit_code} (an error, not a verdict)")
    if listed != packages:
        detail = (
            f"; {applicable} distinct packages among our lines have markers matching this "
            "interpreter"
            if applicable is not None
            else ""
        )
        problems.append(
            f"pip-audit listed {listed} dependencies and we verified {packages} pinned lines{detail}"
        )
    if problems:
        return False, "; ".join(problems)
    return True, f"both runs checked the same {packages} dependencies against advisories"


def applicable_packages(run: VerificationRun) -> int:
    """Distinct package names whose environment marker holds for this interpreter."""
    names = {r.package.name for r in run.results if _marker_holds(r.package.marker)}
    return len(names)


def _marker_holds(marker: str) -> bool:
    if not marker:
        return True
    try:
        return Marker(marker).evaluate()
    except InvalidMarker:
        return True  # the parser accepted it as part of a requirement; count it, do not hide it


def audit_result(
    warm: VerificationRun, audit: dict[str, Any] | None, timing: dict[str, Any]
) -> dict[str, Any]:
    """The pip-audit half of the JSON line (figures of the last round, timings as medians),
    with the comparability verdict."""
    figures = pip_audit_figures(audit if audit is not None else {"data": None})
    exit_code = audit["exit_code"] if audit is not None else NOT_MEASURED
    comparable, reason = comparability(
        warm.total, figures, exit_code, applicable=applicable_packages(warm)
    )
    ratio_median = timing.get("ratio_vs_pip_audit", NOT_MEASURED)
    return {
        "pip_audit_seconds": NOT_MEASURED,
        "ratio_vs_pip_audit": NOT_MEASURED,
        **{k: v for k, v in timing.items() if k.startswith(("pip_audit", "ratio_vs"))},
        **figures,
        "pip_audit_exit_code": exit_code,
        "ratio_comparable": comparable,
        "ratio_comparable_reason": reason,
        "comparable_ratio_vs_pip_audit": ratio_median if comparable else NOT_MEASURED,
    }


def _round(lockfile: Path, cache_dir: Path, last: dict[str, Any]) -> dict[str, float]:
    """One timed round: our warm verification, then pip-audit; keeps both in ``last``."""
    warm = _ours(lockfile, cache_dir)
    last["warm"] = warm
    try:
        audit = _pip_audit(lockfile)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"pip-audit could not run: {exc}", file=sys.stderr)
        last["audit"] = None
        return {"seconds": warm.seconds}
    last["audit"] = audit
    return {
        "seconds": warm.seconds,
        "pip_audit_seconds": audit["seconds"],
        "ratio_vs_pip_audit": ratio(warm.seconds, audit["seconds"]),
    }


def _snapshot(run: VerificationRun) -> list[dict[str, Any]] | str:
    uses = [
        {"label": u.label, "date": u.date.isoformat(), "age_days": u.age_days, "sha256": u.sha256}
        for u in run.snapshots
    ]
    return uses or "not used: the OSV API answered"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.packages")
    parser.add_argument("--lockfile", type=Path, default=project_root() / "requirements.lock")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (default 3)")
    args = parser.parse_args(argv)
    lockfile: Path = args.lockfile.resolve()
    last: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-packages-cache-") as cache_dir:
        cold = _ours(lockfile, Path(cache_dir))  # empty cache: every answer from the registry
        try:
            _pip_audit(lockfile)  # warm-up
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"pip-audit warm-up could not run: {exc}", file=sys.stderr)
        timing = repeat_median(lambda: _round(lockfile, Path(cache_dir), last), args.repeats)
    warm: VerificationRun = last["warm"]
    print(
        f"ours: cold {cold.seconds:.2f} s, warm median {timing['seconds']:.2f} s "
        f"(spread {timing['seconds_spread']:.2f} s), {warm.status}",
        file=sys.stderr,
    )
    result: dict[str, Any] = {
        "benchmark": "packages",
        "lockfile": str(lockfile),
        "repeats": args.repeats,
        "seconds": timing["seconds"],
        "seconds_spread": timing["seconds_spread"],
        "seconds_runs": timing["seconds_runs"],
        "cold_seconds": round(cold.seconds, 3),
        "packages": warm.total,
        "verified": warm.verified,
        "unverified": warm.unverified,
        "vulnerabilities": warm.vulnerabilities,
        "blocking_vulnerabilities": warm.blocking_vulnerabilities,
        "status": warm.status,
        "advisory_sources": [s.name + " " + s.date for s in warm.sources if s.kind != "registry"],
        "advisory_snapshot": _snapshot(warm),
        "cache_hits": sum(1 for r in warm.results if r.registry.from_cache),
    }
    emit(result | audit_result(warm, last.get("audit"), timing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
