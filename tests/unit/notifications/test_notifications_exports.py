"""The notification package's public API is explicit and honest."""

from __future__ import annotations

import importlib

import pytest

import agent_platform.notifications as package

MODULES = [
    "channels",
    "destinations",
    "dispatcher",
    "http_pool",
    "http_sender",
    "ids",
    "outbox",
    "outcome",
    "publisher",
    "render",
    "retry",
    "smtp_connect",
    "ssrf",
    "status",
    "testing",
]


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_exists(name: str) -> None:
    module = importlib.import_module(f"agent_platform.notifications.{name}")
    exported = module.__all__
    assert len(set(exported)) == len(exported)
    for symbol in exported:
        assert hasattr(module, symbol), f"{name}.{symbol}"


def test_package_exports_are_unique_and_resolve() -> None:
    assert len(set(package.__all__)) == len(package.__all__)
    assert all(hasattr(package, symbol) for symbol in package.__all__)


def test_publisher_satisfies_the_event_sink_protocol() -> None:
    import inspect

    from agent_platform.events import EventSink
    from agent_platform.notifications import NotificationPublisher

    sink = inspect.signature(EventSink.publish).parameters
    ours = inspect.signature(NotificationPublisher.publish).parameters
    for name, parameter in sink.items():
        assert name in ours
        assert ours[name].kind == parameter.kind
