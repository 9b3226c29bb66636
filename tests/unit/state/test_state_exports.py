"""The public API of agent_platform.state is explicit and every name in __all__ exists."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "agent_platform.state",
    "agent_platform.state.cache",
    "agent_platform.state.repository",
    "agent_platform.state.ledger_replay",
    "agent_platform.state.consumers",
    "agent_platform.state.backends",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_unique_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(set(exported)) == len(exported)
    for symbol in exported:
        assert hasattr(module, symbol), f"{name}.{symbol}"


def test_package_exports_the_main_entry_points() -> None:
    state = importlib.import_module("agent_platform.state")
    for symbol in (
        "StateRepository",
        "Ledger",
        "verify_ledger_integrity",
        "replay_events",
        "RedisCache",
        "LedgerAnchor",
        "checkpoint_ledger",
    ):
        assert symbol in state.__all__
