"""Loopback receivers for the notification tests (and the evidence helper).

The receivers themselves ship in :mod:`agent_platform.notifications.testing` so that the
evidence job can start them too; this module re-exports them and adds what only tests need: a
webhook secret, a self-signed certificate for STARTTLS, and a config builder.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import shutil
import ssl
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent_platform.notifications.testing import (
    FAULT_KINDS,
    ReceivedEmail,
    ReceivedRequest,
    SmtpReceiver,
    WebhookReceiver,
    verify_signature,
)
from agent_platform.schemas.notifications import NotificationsConfig

__all__ = [
    "FAULT_KINDS",
    "ReceivedEmail",
    "ReceivedRequest",
    "SmtpReceiver",
    "WebhookReceiver",
    "fast_config",
    "new_webhook_secret",
    "self_signed_tls",
    "verify_signature",
]


def new_webhook_secret() -> str:
    """A fresh Standard-Webhooks secret, ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode("ascii")


def self_signed_tls(
    directory: Path, names: Sequence[str] = ("127.0.0.1", "localhost")
) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for ``names`` and the PEM file a client trusts it with (openssl CLI).

    Each name becomes a subjectAltName entry (``IP:`` for addresses, ``DNS:`` otherwise), so a
    certificate for ``["hooks.test"]`` does not cover 127.0.0.1 itself.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is needed to make a test certificate")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    alt_names = ",".join(f"{'IP' if _is_ip(n) else 'DNS'}:{n}" for n in names)
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={names[0]}",
            "-addext",
            f"subjectAltName={alt_names}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, cert


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def fast_config(destinations: list[dict[str, Any]], **overrides: Any) -> NotificationsConfig:
    """A config for tests: tiny backoff, short polls, loopback allow-listed."""
    data: dict[str, Any] = {
        "retry": {"max_attempts": 10, "base_s": 0.005, "cap_s": 0.05},
        "circuit": {"failure_threshold": 50, "open_s": 0.05},
        "dispatcher": {"batch_size": 100, "lease_s": 30, "poll_interval_s": 0.02, "max_workers": 8},
        "security": {"allow_cidrs": ["127.0.0.1/32"]},
        "destinations": destinations,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return NotificationsConfig.model_validate(data)
