"""The exception tree of agent_platform.

Every error a caller can act on is one of these; third-party exceptions (SQLAlchemy, redis,
httpx, litellm) are translated at the boundary with ``raise ... from`` so callers never need to
import those libraries to handle a failure::

    AgentPlatformError
    ├── ConfigError                      bad file, key or value (names all three)
    ├── InvalidInputError                bad argument from a caller (names the argument)
    │   ├── PayloadError                 not JSON-serialisable or over the size limit
    │   └── InputFileError               missing, special, oversized or non-UTF-8 input file
    ├── StorageError                     the durable store failed
    │   ├── IntegrityError               a stored hash no longer matches its content
    │   └── CacheUnavailableError        Redis down or timing out (state.cache; counted, not fatal)
    ├── LedgerError
    │   ├── LedgerConflictError          compare-and-set lost: another writer appended first
    │   ├── LedgerGapError               replay met a missing sequence number
    │   └── LedgerIntegrityError         verification found tampering (names the first bad seq)
    ├── BudgetError
    │   ├── BudgetExceededError          a reservation would breach a cap or token ceiling
    │   └── ReservationError             unknown, expired or already settled reservation
    ├── RoutingError
    │   ├── NoEligibleProviderError      residency, health or budget filtered every provider
    │   ├── ProviderError                one provider call failed (kind, status, retry-after)
    │   └── AllProvidersFailedError      failover exhausted; lists every attempt
    ├── ResidencyViolationError          a request would leave the EU
    ├── PolicyViolationError             the policy guard stopped a node
    ├── SandboxError                     the QA sandbox could not run at all
    ├── NotificationError
    │   ├── DestinationError             unknown, invalid or refused (SSRF) destination
    │   └── DeliveryError                one delivery attempt failed
    ├── SupplyChainError
    │   └── LockfileError                malformed or unpinned lockfile (names line or key)
    └── EvidenceError                    evidence files missing, unreadable or inconsistent
"""

from __future__ import annotations

from typing import Any


def _rebuild(cls: type[AgentPlatformError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class AgentPlatformError(Exception):
    """Root of every error raised by agent_platform.

    Errors cross process boundaries (worker pools, the sandbox, multiprocessing tests), so they
    pickle by state rather than by re-calling ``__init__``, whose signature differs per subclass.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class ConfigError(AgentPlatformError):
    """A configuration file is missing, malformed or holds a value that is not allowed.

    The message always names the file, the key (dotted path), the offending value and what is
    allowed, so the CLI can print it as one line.
    """

    def __init__(self, file: str, key: str, value: object, allowed: str) -> None:
        self.file = file
        self.key = key
        self.value = value
        self.allowed = allowed
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{file}: {key}: got {shown}; allowed: {allowed}")


class InvalidInputError(AgentPlatformError, ValueError):
    """A caller passed an argument that is not allowed."""


class InputFileError(InvalidInputError):
    """An input file cannot be read as text: missing, not a regular file, too big, not UTF-8.

    ``str()`` is ``file not found: PATH (what)`` for a missing file and ``PATH: reason``
    otherwise, so the CLI's one line starts with what the user has to look at.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        if reason.endswith(" not found"):
            text = f"file not found: {self.path} ({reason.removesuffix(' not found')})"
        else:
            text = f"{self.path}: {reason}"
        super().__init__(text)


class PayloadError(InvalidInputError):
    """A payload is not JSON-serialisable or exceeds the configured size limit."""


class StorageError(AgentPlatformError):
    """The durable store failed; nothing was half-written."""


class IntegrityError(StorageError):
    """Stored content no longer matches its recorded SHA-256."""


class LedgerError(AgentPlatformError):
    """Base of ledger failures."""


class LedgerConflictError(LedgerError):
    """An append lost the compare-and-set race; re-read the head and retry."""

    def __init__(self, expected_seq: int, actual_head: int) -> None:
        self.expected_seq = expected_seq
        self.actual_head = actual_head
        super().__init__(
            f"ledger append expected next seq {expected_seq}, but the head is at {actual_head}"
        )


class LedgerGapError(LedgerError):
    """Replay found a missing sequence number."""

    def __init__(self, missing_seq: int) -> None:
        self.missing_seq = missing_seq
        super().__init__(f"ledger entry seq {missing_seq} is missing: replay stopped")


class LedgerIntegrityError(LedgerError):
    """Verification found the ledger tampered with."""

    def __init__(self, seq: int, reason: str) -> None:
        self.seq = seq
        self.reason = reason
        super().__init__(f"ledger entry seq {seq}: {reason}")


class BudgetError(AgentPlatformError):
    """Base of budget failures."""


class BudgetExceededError(BudgetError):
    """The request would breach a money cap or a token ceiling; nothing was called."""


class ReservationError(BudgetError):
    """A reservation is unknown, expired or already settled."""


class RoutingError(AgentPlatformError):
    """Base of routing failures."""


class NoEligibleProviderError(RoutingError):
    """Residency, health or budget filters left no provider for the task."""


class ProviderError(RoutingError):
    """One provider call failed.

    Attributes:
        kind: ``rate_limited``, ``server_error``, ``timeout``, ``connection``, ``bad_response``
            or ``client_error``.
        status: the HTTP status when there was one.
        retry_after_s: the provider's Retry-After, when it sent one.
    """

    def __init__(
        self,
        provider: str,
        kind: str,
        message: str,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.provider = provider
        self.kind = kind
        self.status = status
        self.retry_after_s = retry_after_s
        super().__init__(f"{provider}: {kind}: {message}")


class AllProvidersFailedError(RoutingError):
    """Every provider in the failover chain failed; ``attempts`` lists each one."""

    def __init__(self, task: str, attempts: list[dict[str, object]]) -> None:
        self.task = task
        self.attempts = attempts
        summary = "; ".join(f"{a.get('provider')}: {a.get('outcome')}" for a in attempts)
        super().__init__(f"all providers failed for task {task!r}: {summary}")


class ResidencyViolationError(AgentPlatformError):
    """A request would reach an endpoint outside the EU allow-list."""


class PolicyViolationError(AgentPlatformError):
    """The policy guard stopped a node; ``node`` and ``reasons`` say where and why."""

    def __init__(self, node: str, reasons: list[str]) -> None:
        self.node = node
        self.reasons = reasons
        super().__init__(f"policy violation in {node}: {'; '.join(reasons)}")


class SandboxError(AgentPlatformError):
    """The QA sandbox could not be set up or run."""


class NotificationError(AgentPlatformError):
    """Base of notification failures."""


class DestinationError(NotificationError):
    """A destination is unknown, invalid, or refused by the SSRF policy."""


class DeliveryError(NotificationError):
    """One delivery attempt failed."""


class SupplyChainError(AgentPlatformError):
    """Base of supply-chain failures."""


class LockfileError(SupplyChainError):
    """A lockfile is malformed or not fully pinned; the message names the line or key."""


class EvidenceError(AgentPlatformError):
    """Evidence files are missing, unreadable or inconsistent."""
