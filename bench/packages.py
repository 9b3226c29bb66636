"""Package-verification benchmark: our verifier against pip-audit on the same lockfile, same run.

Run as ``uv run python -m bench.packages [--lockfile requirements.lock]``. Both tools get one
untimed warm-up run (ours fills its registry cache, pip-audit its HTTP cache), then one timed
run each, back to back. The last line printed is a JSON object:

- ``seconds`` / ``cold_seconds``: our verification with a warm cache / with an empty one (the
  warm-up run uses a fresh temporary cache directory, so it is genuinely cold);
- ``pip_audit_seconds``: ``pip-audit -r LOCK --disable-pip`` (a fully hashed file needs no
  ``--no-deps``: pip-audit 2.10 accepts ``--disable-pip`` alone when every line is hashed);
- ``ratio_vs_pip_audit``: ``seconds / pip_audit_seconds`` (target <= 1.0);
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
from bench._harness import emit, ratio

__all__ = [
    "NOT_MEASURED",
    "applicable_packages",
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


def _audit_result(warm: VerificationRun, audit: dict[str, Any] | None) -> dict[str, Any]:
    """The pip-audit half of the JSON line, with the comparability verdict."""
    if audit is None:
        figures = pip_audit_figures({"data": None})
        timing: dict[str, Any] = {
            "pip_audit_seconds": NOT_MEASURED,
            "ratio_vs_pip_audit": NOT_MEASURED,
            "pip_audit_exit_code": NOT_MEASURED,
        }
    else:
        figures = pip_audit_figures(audit)
        timing = {
            "pip_audit_seconds": round(audit["seconds"], 3),
            "ratio_vs_pip_audit": round(ratio(warm.seconds, audit["seconds"]), 4),
            "pip_audit_exit_code": audit["exit_code"],
        }
    comparable, reason = comparability(
        warm.total, figures, timing["pip_audit_exit_code"], applicable=applicable_packages(warm)
    )
    return {
        **timing,
        **figures,
        "ratio_comparable": comparable,
        "ratio_comparable_reason": reason,
        "comparable_ratio_vs_pip_audit": timing["ratio_vs_pip_audit"]
        if comparable
        else NOT_MEASURED,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.packages")
    parser.add_argument("--lockfile", type=Path, default=project_root() / "requirements.lock")
    args = parser.parse_args(argv)
    lockfile: Path = args.lockfile.resolve()

    with tempfile.TemporaryDirectory(prefix="bench-packages-cache-") as cache_dir:
        cold = _ours(lockfile, Path(cache_dir))  # empty cache: every answer from the registry
        warm = _ours(lockfile, Path(cache_dir))
    print(
        f"ours: cold {cold.seconds:.2f} s, warm {warm.seconds:.2f} s, {warm.status}",
        file=sys.stderr,
    )
    audit: dict[str, Any] | None
    try:
        _pip_audit(lockfile)  # warm-up
        audit = _pip_audit(lockfile)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"pip-audit could not run: {exc}", file=sys.stderr)
        audit = None
    result: dict[str, Any] = {
        "benchmark": "packages",
        "lockfile": str(lockfile),
        "seconds": round(warm.seconds, 3),
        "cold_seconds": round(cold.seconds, 3),
        "packages": warm.total,
        "verified": warm.verified,
        "unverified": warm.unverified,
        "vulnerabilities": warm.vulnerabilities,
        "status": warm.status,
        "advisory_sources": [s.name + " " + s.date for s in warm.sources if s.kind != "registry"],
        "cache_hits": sum(1 for r in warm.results if r.registry.from_cache),
    }
    emit(result | _audit_result(warm, audit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
