"""Verify a lockfile's packages against their registries and advisories; fail the pipeline.

Usage: ``uv run python scripts/verify_packages.py --lockfile requirements.lock --ecosystem python
[--output .data/reports/pkg_reality_report.md] [--json]`` (a JSON twin is written next to the
report). The default report goes to ``.data/reports/``: ``evidence/`` belongs to the gate, and
writing there is refused unless ``--force`` is given. Exit 0 when every package is verified, the
lockfile has no failing finding and no advisory reaches the threshold; 1 otherwise; 2 on bad
input. The logic lives in :mod:`agent_platform.commands.supply_chain`.
"""

from __future__ import annotations

import sys

from agent_platform.commands.supply_chain import verify_packages_main

if __name__ == "__main__":
    sys.exit(verify_packages_main())
