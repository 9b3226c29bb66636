"""SMTP connections pinned to an address the SSRF guard checked.

``smtplib`` resolves the host it is given and connects to whatever that resolves to at that
moment; a name that passed the check could then resolve elsewhere (DNS rebinding). Here the
socket goes to the checked address itself, while ``smtplib`` still knows the configured host
name, which STARTTLS and SMTPS send as SNI and verify the server's certificate against (never
the bare address).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["SmtpFactory", "SmtpTarget", "connect_pinned"]


@dataclass(frozen=True)
class SmtpTarget:
    """Where one SMTP attempt goes.

    ``host`` is the configured name (TLS verification, SNI); ``address`` the checked address the
    socket connects to; ``tls_context`` set means SMTPS (TLS from the first byte).
    """

    host: str
    address: str
    port: int
    timeout_s: float
    tls_context: ssl.SSLContext | None = None


#: ``smtp_factory(target)`` returns an ``smtplib.SMTP`` connected to ``target.address``.
SmtpFactory = Callable[[SmtpTarget], smtplib.SMTP]


def _pinned_socket(address: str, port: int, timeout: float, source: Any) -> socket.socket:
    return socket.create_connection((address, port), timeout, source)


class _PinnedSmtp(smtplib.SMTP):
    """``smtplib.SMTP`` whose socket goes to a fixed address whatever host it is told.

    ``_host`` is what ``starttls`` verifies the certificate against; ``smtplib`` sets it only
    when its constructor connects, which here it must not do.
    """

    def __init__(self, host: str, address: str, timeout: float) -> None:
        self._pinned_address = address
        super().__init__(timeout=timeout)
        self._host = host

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return _pinned_socket(self._pinned_address, port, timeout, self.source_address)


class _PinnedSmtps(smtplib.SMTP_SSL):
    """SMTPS to a fixed address, the certificate verified against the configured host name."""

    def __init__(self, host: str, address: str, timeout: float, context: ssl.SSLContext) -> None:
        self._pinned_address = address
        super().__init__(timeout=timeout, context=context)
        self._host = host

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        raw = _pinned_socket(self._pinned_address, port, timeout, self.source_address)
        try:
            return self.context.wrap_socket(raw, server_hostname=host)
        except BaseException:
            raw.close()
            raise


def connect_pinned(target: SmtpTarget) -> smtplib.SMTP:
    """An SMTP session with ``target.address`` that knows itself as ``target.host``."""
    client: smtplib.SMTP
    if target.tls_context is not None:
        client = _PinnedSmtps(target.host, target.address, target.timeout_s, target.tls_context)
    else:
        client = _PinnedSmtp(target.host, target.address, target.timeout_s)
    try:
        client.connect(target.host, target.port)
    except BaseException:
        client.close()
        raise
    return client
