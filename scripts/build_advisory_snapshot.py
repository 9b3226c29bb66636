"""Build the project's offline advisory snapshot from a directory of OSV records.

Usage: ``uv run python scripts/build_advisory_snapshot.py --source DIR [--commit SHA --date
YYYY-MM-DD] [--dir agent_platform/data/advisories]``. ``DIR`` is a checkout of the Python
Packaging Advisory Database (or any folder of OSV ``*.yaml``/``*.json`` records, ``DIR/vulns``
if present); commit and date are read with git when ``DIR`` is a checkout. The output is
deterministic: the same input gives byte-identical files. Exit 0 on success, 2 on bad input.
The logic lives in :mod:`agent_platform.commands.advisories`.
"""

from __future__ import annotations

import sys

from agent_platform.commands.advisories import build_snapshot_main

if __name__ == "__main__":
    sys.exit(build_snapshot_main())
