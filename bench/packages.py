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
  JSON ``skip_reason`` entries), ``pip_audit_exit_code``.

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
from pathlib import Path
from typing import Any

from agent_platform.config import project_root
from agent_platform.supply_chain import PackageVerifier, VerificationRun, load_supply_chain_config
from bench._harness import emit, ratio

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


def _pip_audit_figures(result: dict[str, Any]) -> dict[str, Any]:
    data = result["data"]
    if not isinstance(data, dict):
        return {
            "pip_audit_packages": NOT_MEASURED,
            "pip_audit_skipped": NOT_MEASURED,
            "pip_audit_vulnerabilities": NOT_MEASURED,
        }
    deps = data.get("dependencies", [])
    return {
        "pip_audit_packages": len(deps),
        "pip_audit_skipped": sum(1 for d in deps if "skip_reason" in d),
        "pip_audit_vulnerabilities": sum(len(d.get("vulns", [])) for d in deps),
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
    if audit is None:
        result |= {
            "pip_audit_seconds": NOT_MEASURED,
            "ratio_vs_pip_audit": NOT_MEASURED,
            "pip_audit_exit_code": NOT_MEASURED,
        }
        result |= _pip_audit_figures({"data": None})
    else:
        result |= {
            "pip_audit_seconds": round(audit["seconds"], 3),
            "ratio_vs_pip_audit": round(ratio(warm.seconds, audit["seconds"]), 4),
            "pip_audit_exit_code": audit["exit_code"],
        }
        result |= _pip_audit_figures(audit)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
