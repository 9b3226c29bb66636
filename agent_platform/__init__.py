"""agent_platform: a governed runtime for autonomous coding agents, and the evidence it works.

The library imports no Dagster; the evidence code location in ``assets/`` and ``jobs/`` is a thin
layer over it. Nothing here opens a connection at import time.
"""

__version__ = "0.1.0"
