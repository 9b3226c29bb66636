"""The loopback SMTP receiver (aiosmtpd), re-exported by :mod:`.testing`.

It records every message it accepts and, on demand, faults a seeded share of them at the end
of DATA (after reading the message, so the fault can be attributed to its notification).
aiosmtpd is imported only when a receiver starts.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import random
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Self

from agent_platform._loopback import StartStopContext, free_port
from agent_platform.notifications._receiver_common import FaultPlan, wait_until
from agent_platform.notifications.ids import utc_now

__all__ = ["SMTP_FAULT_KINDS", "ReceivedEmail", "SmtpFault", "SmtpReceiver"]

#: Faults the SMTP receiver can inject at the end of DATA: a transient ``451``, a permanent
#: ``554``, a connection ``drop`` without an answer, or a ``timeout`` (no answer for ``hang_s``).
SMTP_FAULT_KINDS = ("451", "554", "drop", "timeout")


@dataclass(frozen=True)
class SmtpFault:
    """A message the SMTP receiver read to the end of DATA and then faulted (``kind``)."""

    received_at: datetime
    kind: str
    message: EmailMessage


@dataclass(frozen=True)
class ReceivedEmail:
    """One message the SMTP receiver accepted."""

    received_at: datetime
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    auth_user: str | None = None

    @property
    def subject(self) -> str:
        return str(self.message["Subject"]).strip()

    def body(self, subtype: str = "plain") -> str:
        """The ``text/plain`` (or ``text/html``) part's content."""
        part = self.message.get_body(preferencelist=(subtype,))
        return "" if part is None else str(part.get_content())


class SmtpReceiver(StartStopContext):
    """An aiosmtpd SMTP server on 127.0.0.1 that records every message.

    Args:
        tls_context: a server-side context; when given the server offers STARTTLS (or, with
            ``implicit_tls``, speaks TLS from the first byte, as SMTPS does).
        hang_s: how long a ``timeout`` fault keeps the client waiting before dropping it.
        require_starttls: refuse mail until the client has upgraded (needs ``tls_context``).
        implicit_tls: serve SMTPS with ``tls_context`` instead of offering STARTTLS.
        credentials: ``(username, password)`` the server demands over TLS (AUTH PLAIN/LOGIN).
        echo_credentials: answer a failed AUTH with a reply that repeats the login and password
            it was given (as careless servers do), to prove the client never stores such text.
    """

    def __init__(
        self,
        *,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        credentials: tuple[str, str] | None = None,
        echo_credentials: bool = False,
        port: int | None = None,
        implicit_tls: bool = False,
        hang_s: float = 2.0,
    ) -> None:
        self.hang_s = hang_s
        self._plan = FaultPlan()
        self._faults: list[SmtpFault] = []
        if implicit_tls and (tls_context is None or require_starttls):
            raise ValueError("implicit_tls needs a tls_context and no require_starttls")
        self._implicit_tls = implicit_tls
        self._credentials = credentials
        self._echo_credentials = echo_credentials
        self.port = port or free_port()
        self._tls_context = tls_context
        self._require_starttls = require_starttls
        self._lock = threading.Condition()
        self._messages: list[ReceivedEmail] = []
        self._controller: Any = None

    def start(self) -> Self:
        from aiosmtpd.controller import Controller

        kwargs: dict[str, Any] = {}
        if self._implicit_tls:
            kwargs = {"ssl_context": self._tls_context}
        elif self._tls_context is not None:
            kwargs = {"tls_context": self._tls_context, "require_starttls": self._require_starttls}
        if self._credentials is not None:
            kwargs["authenticator"] = _Authenticator(*self._credentials, self._echo_credentials)
            kwargs["auth_required"] = True
        self._controller = Controller(
            _SmtpHandler(self), hostname="127.0.0.1", port=self.port, **kwargs
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _add(self, message: ReceivedEmail) -> None:
        with self._lock:
            self._messages.append(message)
            self._lock.notify_all()

    def messages(self) -> list[ReceivedEmail]:
        with self._lock:
            return list(self._messages)

    def set_fault_rate(
        self, rate: float, kinds: Sequence[str] = SMTP_FAULT_KINDS, seed: int = 0
    ) -> None:
        """Fault a ``rate`` share of messages at the end of DATA, kinds drawn by ``seed``."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be within [0, 1], got {rate}")
        for kind in kinds:
            if kind not in SMTP_FAULT_KINDS:
                allowed = ", ".join(SMTP_FAULT_KINDS)
                raise ValueError(f"unknown SMTP fault {kind!r}; allowed: {allowed}")
        with self._lock:
            self._plan = FaultPlan(rate=rate, kinds=tuple(kinds), rng=random.Random(seed))

    def _next_fault(self, message: EmailMessage) -> str | None:
        with self._lock:
            kind = self._plan.next_fault("smtp")
            if kind is not None:
                self._faults.append(SmtpFault(utc_now(), kind, message))
            return kind

    def faults(self) -> list[SmtpFault]:
        """Every message faulted so far, in order."""
        with self._lock:
            return list(self._faults)

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until ``count`` messages arrived; False if ``timeout`` passes first."""
        with self._lock:
            return wait_until(self._lock, lambda: len(self._messages) >= count, timeout)


class _Authenticator:
    """Accepts exactly one username/password pair (AUTH PLAIN or LOGIN)."""

    def __init__(self, username: str, password: str, echo: bool = False) -> None:
        self._expected = (username.encode(), password.encode())
        self._echo = echo

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = (
            isinstance(auth_data, LoginPassword)
            and (
                auth_data.login,
                auth_data.password,
            )
            == self._expected
        )
        message = None
        if not ok and self._echo and isinstance(auth_data, LoginPassword):
            given = f"{_text(auth_data.login)}:{_text(auth_data.password)}"
            message = f"535 5.7.8 credentials rejected: {given}"
        return AuthResult(
            success=ok, handled=False, message=message, auth_data=auth_data.login if ok else None
        )


class _SmtpHandler:
    def __init__(self, owner: SmtpReceiver) -> None:
        self._owner = owner

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        fault = self._owner._next_fault(parsed)
        if fault is not None:
            return await self._fault(server, fault)
        self._owner._add(
            ReceivedEmail(
                received_at=utc_now(),
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                message=parsed,
                # STARTTLS sets ``session.ssl``; SMTPS is TLS from the start, seen on the transport.
                tls=session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
                auth_user=_text(session.auth_data),
            )
        )
        return "250 Message accepted for delivery"

    async def _fault(self, server: Any, kind: str) -> str:
        if kind == "451":
            return "451 4.3.0 Temporary failure, try again later"
        if kind == "554":
            return "554 5.7.1 Message refused"
        if kind == "timeout":
            await asyncio.sleep(self._owner.hang_s)
        server.transport.close()  # ``drop``, or a ``timeout`` that has waited: no answer
        return "421 4.4.2 Connection dropped"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
