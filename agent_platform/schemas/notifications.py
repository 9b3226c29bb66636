"""Schema of ``configs/notifications.yaml``: destinations, retry schedule, circuit, SSRF allow-list.

Secrets are named here only by environment variable (``secret_env``, ``url_env``,
``password_env``); a literal secret has no field to go in. URLs, e-mail addresses, CIDRs and
event patterns are checked when the file is loaded, so a typo is a :class:`ConfigError` naming
the key instead of a failed delivery hours later.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "NEVER_ALLOWED_HOSTS",
    "NEVER_ALLOWED_NETWORKS",
    "CircuitConfig",
    "DispatcherConfig",
    "EmailDestination",
    "NotificationDestination",
    "NotificationsConfig",
    "RetryConfig",
    "SecurityConfig",
    "SlackDestination",
    "WebhookDestination",
    "is_valid_email",
    "normalise_host",
    "validate_http_url",
]

_NAME = r"^[a-z0-9][a-z0-9_.-]{0,127}$"
_ENV_NAME = r"^[A-Z_][A-Z0-9_]{0,127}$"
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_HOSTNAME = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


#: Never reachable, whatever ``security.allow_hosts``/``allow_cidrs`` say: link-local ranges
#: (where cloud metadata services answer) and the metadata addresses outside them (AWS's IPv6
#: endpoint, Alibaba's inside CGNAT). The SSRF guard applies them to IPv6 forms that carry an
#: IPv4 address too.
NEVER_ALLOWED_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32")
)
#: Metadata service names refused before they are even resolved (normalised: lower case, no
#: trailing dot); ``metadata`` is the short name a GCE search domain completes.
NEVER_ALLOWED_HOSTS = frozenset({"metadata.google.internal", "metadata"})


def normalise_host(host: str) -> str:
    """A host name as the allow-list compares it: trimmed, lower case, no trailing dot."""
    return host.strip().rstrip(".").lower()


def _never_allowed(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return any(
        network.version == never.version and network.subnet_of(never)  # type: ignore[arg-type]
        for never in NEVER_ALLOWED_NETWORKS
    )


def is_valid_email(address: str) -> bool:
    """True for a plain ``local@domain`` address (no display name, no comments)."""
    return len(address) <= 254 and bool(_EMAIL.match(address))


def validate_http_url(url: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL with a host; raise ValueError otherwise.

    The message never repeats the URL: it may hold a token (Slack URLs do).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError("an absolute http:// or https:// URL (this one does not parse)") from exc
    if parts.scheme not in ("http", "https"):
        raise ValueError("an absolute http:// or https:// URL (scheme must be http or https)")
    host = parts.hostname or ""
    if not host:
        raise ValueError("an absolute http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError("a URL without user:password (put credentials in secret_env)")
    if port == 0:
        raise ValueError("a URL whose port is 1-65535")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.match(host):
            raise ValueError("a URL whose host is a valid DNS name or IP address") from None
    return url


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Destination(_Frozen):
    name: str = Field(pattern=_NAME)
    enabled: bool = True
    events: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    timeout_s: float = Field(default=5.0, gt=0, le=120)


class _HttpDestination(_Destination):
    """URL either literally (``url``) or from an environment variable (``url_env``)."""

    url: str | None = None
    url_env: str | None = Field(default=None, pattern=_ENV_NAME)
    #: PEM file of the CA(s) to trust for an https URL instead of the system store.
    ca_file: str | None = Field(default=None, min_length=1)

    @field_validator("url")
    @classmethod
    def _url_shape(cls, url: str | None) -> str | None:
        return None if url is None else validate_http_url(url)

    @model_validator(mode="after")
    def _one_url_source(self) -> _HttpDestination:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("exactly one of url or url_env")
        return self


class WebhookDestination(_HttpDestination):
    """A generic JSON webhook signed in the Standard Webhooks scheme."""

    type: Literal["webhook"]
    secret_env: str = Field(pattern=_ENV_NAME)


class SlackDestination(_HttpDestination):
    """A Slack incoming webhook; its URL is itself a secret, so prefer ``url_env``."""

    type: Literal["slack"]
    link_template: str | None = None

    @field_validator("link_template")
    @classmethod
    def _template_fields(cls, template: str | None) -> str | None:
        if template is None:
            return None
        try:
            rendered = template.format(correlation_id="c", notification_id="n", event_type="e")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                "a URL template using only {correlation_id}, {notification_id}, {event_type}"
            ) from exc
        validate_http_url(rendered)
        return template


class EmailDestination(_Destination):
    """E-mail over SMTP: upgraded with STARTTLS when ``starttls`` is true, or TLS from the first
    byte (SMTPS, usually port 465) when ``smtps`` is true."""

    type: Literal["email"]
    smtp_host: str = Field(min_length=1)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    smtps: bool = False
    ca_file: str | None = None
    username_env: str | None = Field(default=None, pattern=_ENV_NAME)
    password_env: str | None = Field(default=None, pattern=_ENV_NAME)
    from_addr: str
    to_addrs: list[str] = Field(min_length=1)

    @field_validator("from_addr")
    @classmethod
    def _from_is_email(cls, address: str) -> str:
        if not is_valid_email(address):
            raise ValueError("an e-mail address like name@example.org")
        return address

    @field_validator("to_addrs")
    @classmethod
    def _to_are_emails(cls, addresses: list[str]) -> list[str]:
        for address in addresses:
            if not is_valid_email(address):
                raise ValueError(f"e-mail addresses like name@example.org (got {address!r})")
        return addresses

    @model_validator(mode="after")
    def _credentials_pair(self) -> EmailDestination:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("username_env and password_env together, or neither")
        if self.smtps and self.starttls and "starttls" in self.model_fields_set:
            raise ValueError("smtps (TLS from the start) or starttls (an upgrade), not both")
        return self

    @property
    def upgrade_with_starttls(self) -> bool:
        """STARTTLS applies only to a plain connection (``smtps`` is TLS already)."""
        return self.starttls and not self.smtps


NotificationDestination = Annotated[
    WebhookDestination | SlackDestination | EmailDestination, Field(discriminator="type")
]


class RetryConfig(_Frozen):
    """Exponential backoff with full jitter: attempt n waits U(0, min(cap, base * 2**(n-1)))."""

    max_attempts: int = Field(default=8, ge=1, le=100)
    base_s: float = Field(default=0.5, ge=0)
    cap_s: float = Field(default=300.0, ge=0)
    retry_after_max_s: float = Field(default=3600.0, gt=0)


class CircuitConfig(_Frozen):
    """After ``failure_threshold`` consecutive failures the circuit opens for ``open_s``."""

    failure_threshold: int = Field(default=5, ge=1)
    open_s: float = Field(default=30.0, ge=0)


class DispatcherConfig(_Frozen):
    batch_size: int = Field(default=100, ge=1, le=10_000)
    lease_s: float = Field(default=60.0, gt=0)
    poll_interval_s: float = Field(default=0.5, gt=0)
    max_workers: int = Field(default=8, ge=1, le=256)


class SecurityConfig(_Frozen):
    """Hosts or CIDRs that may be reached although they resolve to non-public addresses.

    An entry that could only ever name a link-local or cloud metadata address is refused here,
    because the guard never opens those (:data:`NEVER_ALLOWED_NETWORKS`).
    """

    allow_hosts: list[str] = Field(default_factory=list)
    allow_cidrs: list[str] = Field(default_factory=list)

    @field_validator("allow_hosts")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            name = normalise_host(host)
            if not name:
                raise ValueError("host names or addresses (got an empty entry)")
            try:
                literal = ipaddress.ip_network(name)
            except ValueError:
                literal = None
            if name in NEVER_ALLOWED_HOSTS or (literal is not None and _never_allowed(literal)):
                raise ValueError(
                    f"hosts other than link-local or cloud metadata ones (got {host!r}: "
                    "those are never reachable)"
                )
        return hosts

    @field_validator("allow_cidrs")
    @classmethod
    def _cidrs(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            try:
                network = ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"CIDR blocks like 10.0.0.0/8 (got {cidr!r})") from exc
            if _never_allowed(network):
                raise ValueError(
                    f"CIDR blocks outside link-local and cloud metadata ranges (got {cidr!r}: "
                    "those are never reachable)"
                )
        return cidrs


class NotificationsConfig(_Frozen):
    """The whole of ``configs/notifications.yaml``."""

    max_payload_bytes: int = Field(default=65_536, ge=64, le=10_000_000)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    circuit: CircuitConfig = Field(default_factory=CircuitConfig)
    dispatcher: DispatcherConfig = Field(default_factory=DispatcherConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    destinations: list[NotificationDestination] = Field(default_factory=list)

    @field_validator("destinations")
    @classmethod
    def _unique_names(
        cls, destinations: list[WebhookDestination | SlackDestination | EmailDestination]
    ) -> list[WebhookDestination | SlackDestination | EmailDestination]:
        seen: set[str] = set()
        for destination in destinations:
            if destination.name in seen:
                raise ValueError(f"unique destination names ({destination.name!r} repeats)")
            seen.add(destination.name)
        return destinations
