"""The SSRF policy: which addresses a webhook or Slack URL may reach, and pinning to them.

A destination URL is resolved once; if any address it resolves to is loopback, private,
link-local, CGNAT (100.64/10), multicast, reserved, unspecified or a cloud metadata endpoint, the
request is refused unless the host or the address is on the configured allow-list. An IPv6
address that carries an IPv4 address (mapped ``::ffff:a.b.c.d``, compatible ``::a.b.c.d``, NAT64
``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo ``2001::/32``) is judged by that IPv4 address too, so
``64:ff9b::a9fe:a9fe`` is the metadata endpoint it translates to. Link-local and cloud metadata
addresses (and metadata host names) are refused even when allow-listed: no entry opens them.
The connection then goes to the resolved address itself (for HTTP the URL's host is replaced
by the IP, the ``Host`` header and TLS SNI keep the name; SMTP connects its socket to the
address and verifies TLS against the configured name), so a second DNS answer cannot swap in
another target. Error texts name the host, never the URL: a Slack URL's path is a secret.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import httpx

from agent_platform.errors import DestinationError
from agent_platform.schemas.notifications import (
    NEVER_ALLOWED_HOSTS,
    NEVER_ALLOWED_NETWORKS,
    normalise_host,
)

__all__ = [
    "AddressGuard",
    "AddressPolicy",
    "PinnedTarget",
    "Resolver",
    "blocked_reason",
    "embedded_ipv4",
    "never_reason",
    "pin_host",
    "pin_url",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: ``resolver(host, port)`` returns every address ``host`` resolves to, as strings.
Resolver = Callable[[str, int], Sequence[str]]

_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
_COMPATIBLE = ipaddress.ip_network("::/96")  # RFC 4291 IPv4-compatible (deprecated)
_LOW32 = 0xFFFFFFFF


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the operating system (``getaddrinfo``), de-duplicated, in its order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DestinationError(f"cannot resolve host {host!r}: {exc}") from exc
    seen: dict[str, None] = {}
    for info in infos:
        seen.setdefault(str(info[4][0]).split("%", 1)[0], None)
    return list(seen)


def embedded_ipv4(address: IPAddress) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo).

    Teredo yields its client (the host reached) then its server. ``::`` and ``::1`` are the
    IPv6 unspecified and loopback addresses, not IPv4-compatible ones. Empty for IPv4.
    """
    if not isinstance(address, ipaddress.IPv6Address):
        return ()
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address in _NAT64 or (address in _COMPATIBLE and int(address) > 1):
        return (ipaddress.IPv4Address(int(address) & _LOW32),)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        server, client = address.teredo
        return (client, server)
    return ()


def blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` must not be reached without an allow-list entry; None if it is public.

    An IPv6 address embedding a refused IPv4 address gets that address's reason. Mapped, 6to4
    and NAT64 addresses stand for their IPv4 address alone (6to4 explicitly: whether the
    standard library calls 2002::/16 private differs between Python 3.11 patch releases); the
    other embeddings must pass as IPv6 addresses as well.
    """
    for inner in embedded_ipv4(address):
        reason = blocked_reason(inner)
        if reason is not None:
            return reason
    if isinstance(address, ipaddress.IPv6Address) and (
        address.ipv4_mapped is not None or address.sixtofour is not None or address in _NAT64
    ):
        return None
    checks: tuple[tuple[bool, str], ...] = (
        (address in _METADATA, "cloud metadata"),
        (address.is_loopback, "loopback"),
        (address.is_unspecified, "unspecified"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "CGNAT"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "non-public"),
    )
    for hit, reason in checks:
        if hit:
            return reason
    return None


def never_reason(address: IPAddress) -> str | None:
    """Why ``address`` may never be reached, allow-listed or not; None if an entry may open it.

    Link-local and cloud metadata addresses, and every IPv6 form carrying one of them.
    """
    for candidate in (address, *embedded_ipv4(address)):
        if candidate in _METADATA:
            return "cloud metadata"
        if any(candidate in network for network in NEVER_ALLOWED_NETWORKS):
            return "link-local"  # the metadata addresses outside link-local are in _METADATA
    return None


class AddressPolicy:
    """Refuses non-public addresses unless their host name or their address is allow-listed.

    Link-local and metadata addresses, and metadata host names, are refused whatever the
    allow-list says (:func:`never_reason`).
    """

    def __init__(self, allow_hosts: Iterable[str] = (), allow_cidrs: Iterable[str] = ()) -> None:
        self._hosts = frozenset(normalise_host(h) for h in allow_hosts)
        self._networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(c, strict=False) for c in allow_cidrs
        )

    def check_name(self, host: str) -> None:
        """Refuse a metadata service's name before anything resolves it."""
        if normalise_host(host) in NEVER_ALLOWED_HOSTS:
            raise DestinationError(
                f"refused: host {host!r} is a cloud metadata service, never reachable "
                "(no allow-list entry opens it)"
            )

    def check(self, host: str, addresses: Sequence[str]) -> IPAddress:
        """Return the address to connect to, or raise :class:`DestinationError`."""
        self.check_name(host)
        if not addresses:
            raise DestinationError(f"host {host!r} resolved to no address")
        parsed = [_parse(host, a) for a in addresses]
        for address in parsed:
            never = never_reason(address)
            if never is not None:
                raise DestinationError(
                    f"refused: host {host!r} resolves to {address}{_carried(address)} "
                    f"({never} address), never reachable (no allow-list entry opens it)"
                )
        if normalise_host(host) in self._hosts:
            return parsed[0]
        for address in parsed:
            reason = blocked_reason(address)
            if reason is not None and not self._allowed(address):
                raise DestinationError(
                    f"refused: host {host!r} resolves to {address}{_carried(address)} "
                    f"({reason} address); "
                    "allow-list the host or its CIDR in security.allow_hosts/allow_cidrs"
                )
        return parsed[0]

    def _allowed(self, address: IPAddress) -> bool:
        """The address, or every IPv4 address it carries, is in an allow-listed network."""
        if any(address in n for n in self._networks):
            return True
        inner = embedded_ipv4(address)
        return bool(inner) and all(any(a in n for n in self._networks) for a in inner)


@dataclass(frozen=True)
class PinnedTarget:
    """Where one request goes: the URL with the resolved IP, the name for Host and SNI."""

    url: httpx.URL
    host: str
    address: str

    @property
    def extensions(self) -> dict[str, str]:
        return {"sni_hostname": self.host} if self.url.scheme == "https" else {}

    @property
    def host_header(self) -> str:
        original_port = self.url.port
        return self.host if original_port is None else f"{self.host}:{original_port}"


def pin_host(host: str, port: int, policy: AddressPolicy, resolver: Resolver) -> str:
    """Resolve ``host`` once (unless it is an address), apply ``policy``; the address to use.

    A metadata service's name is refused before it is resolved. The name is resolved on every
    call; only the verdict on a (host, addresses) answer is remembered (it is a pure function
    of them and the immutable policy), since profiling put its parsing at a tenth of a send.
    """
    policy.check_name(host)
    literal = _literal(host)
    addresses = (literal,) if literal is not None else tuple(resolver(host, port))
    return _verdict(policy, host, addresses)


def pin_url(url: str, policy: AddressPolicy, resolver: Resolver) -> PinnedTarget:
    """Resolve ``url``'s host once, apply ``policy`` and return the pinned target."""
    parsed, host, port = _parse_url(url)
    address = pin_host(host, port, policy, resolver)
    return PinnedTarget(url=_pinned(parsed, address), host=host, address=address)


@functools.lru_cache(maxsize=512)
def _parse_url(url: str) -> tuple[httpx.URL, str, int]:
    """A destination URL parsed (once: destination URLs are few and fixed), its host and port."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise DestinationError("invalid destination URL (it does not parse)") from exc
    host = parsed.host
    if parsed.scheme not in ("http", "https") or not host:
        raise DestinationError("invalid destination URL (need http(s) with a host)")
    return parsed, host, parsed.port or (443 if parsed.scheme == "https" else 80)


@functools.lru_cache(maxsize=512)
def _pinned(parsed: httpx.URL, address: str) -> httpx.URL:
    return parsed.copy_with(host=address)


@functools.lru_cache(maxsize=1024)
def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


@functools.lru_cache(maxsize=1024)
def _verdict(policy: AddressPolicy, host: str, addresses: tuple[str, ...]) -> str:
    """The address to connect to (a refusal raises, and is not remembered)."""
    return str(policy.check(host, addresses))


class AddressGuard:
    """A policy and the resolver whose answers it judges: every channel's way to an address."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver | None = None) -> None:
        self.policy = policy
        self.resolver = resolver or system_resolver

    def pin_host(self, host: str, port: int) -> str:
        return pin_host(host, port, self.policy, self.resolver)

    def pin_url(self, url: str) -> PinnedTarget:
        return pin_url(url, self.policy, self.resolver)


def _parse(host: str, address: str) -> IPAddress:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError as exc:
        raise DestinationError(f"host {host!r} resolved to a non-IP value {address!r}") from exc


def _carried(address: IPAddress) -> str:
    inner = embedded_ipv4(address)
    return f" carrying {', '.join(map(str, inner))}" if inner else ""
