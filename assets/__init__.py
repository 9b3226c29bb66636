"""Dagster assets and asset checks, one module per evidence family.

Each asset runs a real workload against the runtime (through the resources of
``jobs/resources.py``), writes what it measured through the formats of
:mod:`agent_platform.evidence.formats`, and records a workload manifest; the asset checks read
the files back and hold each figure to its threshold in the contract.
"""
