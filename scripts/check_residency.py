"""Check EU data residency of every vendor and routed provider; fail the pipeline on violations.

Usage: ``uv run python scripts/check_residency.py [--config configs/vendor_residency.yaml]
[--routing configs/model_routing.yaml] [--output .data/reports/vendor_region_distribution.csv]
[--json]``. Writes the CSV (also when a check fails), names each violation on stderr and exits
1; exits 2 on a bad config. The gate's copy, ``metrics/compliance/vendor_region_distribution.csv``,
is written only with ``--force``. The decision is the router's own,
:func:`agent_platform.compliance.evaluate_vendor`.
"""

from __future__ import annotations

import sys

from agent_platform.commands.supply_chain import check_residency_main

if __name__ == "__main__":
    sys.exit(check_residency_main())
