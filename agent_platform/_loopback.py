"""Loopback servers on a background thread, and the ``with`` shape of anything with start/stop.

Why it exists: the provider simulator (:mod:`agent_platform.models.simulator`) and the test
receivers (:mod:`agent_platform.notifications.testing`) both stand up servers on 127.0.0.1 for
tests, benchmarks and the evidence job. Serving a ``ThreadingHTTPServer`` from one daemon thread
and stopping it in the right order (``shutdown``, then ``server_close`` to free the port, then a
bounded ``join``) is the same for all of them, and so is using such a server as a context
manager that calls ``start()`` on the way in and ``stop()`` on the way out.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Protocol, Self, TypeVar

__all__ = ["BackgroundServer", "StartStopContext", "free_port", "serve_in_background"]

#: How often ``serve_forever`` looks for a shutdown request, in seconds.
POLL_INTERVAL_S = 0.05


@dataclass(frozen=True)
class BackgroundServer:
    """A ``ThreadingHTTPServer`` and the daemon thread serving it; see :func:`serve_in_background`."""

    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        """The port the server is bound to (useful after binding port 0)."""
        return int(self.server.server_address[1])

    def close(self, join_timeout: float) -> None:
        """Stop serving, close the listening socket, and wait up to ``join_timeout`` s for the
        serving thread to end."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=join_timeout)


def serve_in_background(
    server: ThreadingHTTPServer, *, poll_interval: float = POLL_INTERVAL_S
) -> BackgroundServer:
    """Start serving ``server`` (already bound and configured) from a daemon thread."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
    )
    thread.start()
    return BackgroundServer(server, thread)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for servers that need it up front)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Startable(Protocol):
    def start(self) -> Self: ...

    def stop(self) -> None: ...


_S = TypeVar("_S", bound=_Startable)


class StartStopContext:
    """Mixin: ``with obj as started:`` runs ``obj.start()`` and, on the way out, ``obj.stop()``."""

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(
        self: _Startable,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
