"""Importing the agent graph or its CLI must not import litellm (it takes seconds)."""

from __future__ import annotations

import subprocess
import sys


def test_the_graph_and_the_run_command_import_without_litellm():
    probe = (
        "import sys\n"
        "import agent_platform.orchestration, agent_platform.commands.run, agent_platform.cli\n"
        "import agent_platform.orchestration.router_wiring\n"
        "print(sorted(m for m in sys.modules if m == 'litellm' or m.startswith('litellm.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
