"""The public API of the supply-chain and compliance packages stays explicit and importable."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("module", ["agent_platform.supply_chain", "agent_platform.compliance"])
def test_every_exported_name_exists_and_the_list_is_sorted(module: str) -> None:
    package = importlib.import_module(module)
    exported = package.__all__
    assert exported == sorted(exported)
    assert all(hasattr(package, name) for name in exported)
