"""The SSRF policy refuses every non-public address class unless allow-listed, and pins."""

from __future__ import annotations

import ipaddress

import pytest

from agent_platform.errors import DestinationError
from agent_platform.notifications.ssrf import (
    AddressGuard,
    AddressPolicy,
    blocked_reason,
    embedded_ipv4,
    never_reason,
    pin_host,
    pin_url,
    system_resolver,
)

REFUSED = {
    "127.0.0.1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "172.31.255.254": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "cloud metadata",
    "169.254.1.1": "link-local",
    "100.64.0.1": "CGNAT",
    "100.127.255.254": "CGNAT",
    "0.0.0.0": "unspecified",
    "224.0.0.1": "multicast",
    "240.0.0.1": "reserved",
    "::1": "loopback",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "fd00:ec2::254": "cloud metadata",
    "fe80::1": "link-local",
    "::ffff:127.0.0.1": "loopback",
    "ff02::1": "multicast",
}


@pytest.mark.parametrize(("address", "reason"), sorted(REFUSED.items()))
def test_every_non_public_class_is_named(address: str, reason: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"])
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", sorted(REFUSED))
def test_url_with_refused_literal_address_is_refused(address: str) -> None:
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(DestinationError, match="refused"):
        pin_url(f"https://{host}/hook", AddressPolicy(), lambda h, p: [])


@pytest.mark.parametrize("address", sorted(REFUSED))
def test_hostname_resolving_to_refused_address_is_refused(address: str) -> None:
    with pytest.raises(DestinationError, match=r"hooks\.example\.org"):
        pin_url("https://hooks.example.org/x", AddressPolicy(), lambda h, p: [address])


def test_localhost_resolved_by_the_system_is_refused() -> None:
    assert system_resolver("localhost", 80)
    with pytest.raises(DestinationError, match="loopback"):
        pin_url("http://localhost:8080/hook", AddressPolicy(), system_resolver)


def test_one_bad_address_among_good_ones_refuses_the_host() -> None:
    with pytest.raises(DestinationError, match=r"10\.0\.0\.5"):
        pin_url("https://mixed.example.org/", AddressPolicy(), lambda h, p: ["8.8.8.8", "10.0.0.5"])


def test_cidr_allow_list_admits_only_its_network() -> None:
    policy = AddressPolicy(allow_cidrs=["127.0.0.1/32"])
    target = pin_url("http://127.0.0.1:9999/hook", policy, lambda h, p: [])
    assert str(target.url) == "http://127.0.0.1:9999/hook"
    with pytest.raises(DestinationError):
        pin_url("http://127.0.0.2:9999/hook", policy, lambda h, p: [])


def test_host_allow_list_admits_the_named_host() -> None:
    policy = AddressPolicy(allow_hosts=["Hooks.Internal."])
    target = pin_url("https://hooks.internal/x", policy, lambda h, p: ["10.0.0.7"])
    assert target.address == "10.0.0.7"


def test_pinned_target_connects_to_resolved_ip_keeping_host_and_sni() -> None:
    calls: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return ["93.184.215.14"]

    target = pin_url("https://hooks.example.org:8443/path?q=1", AddressPolicy(), resolver)
    assert calls == [("hooks.example.org", 8443)]
    assert str(target.url) == "https://93.184.215.14:8443/path?q=1"
    assert target.host_header == "hooks.example.org:8443"
    assert target.extensions == {"sni_hostname": "hooks.example.org"}


def test_unresolvable_host_is_a_destination_error() -> None:
    with pytest.raises(DestinationError, match="cannot resolve"):
        system_resolver("no-such-host.invalid", 443)


# IPv6 addresses that carry an IPv4 address: judged by the IPv4 address they carry.
EMBEDDED_REFUSED = {
    "64:ff9b::a9fe:a9fe": "cloud metadata",  # NAT64 of 169.254.169.254
    "64:ff9b::7f00:1": "loopback",  # NAT64 of 127.0.0.1
    "64:ff9b::a00:5": "private",  # NAT64 of 10.0.0.5
    "2002:a9fe:a9fe::1": "cloud metadata",  # 6to4 of 169.254.169.254
    "2002:7f00:1::1": "loopback",  # 6to4 of 127.0.0.1
    "::ffff:169.254.169.254": "cloud metadata",  # mapped
    "::169.254.169.254": "cloud metadata",  # compatible
    "::127.0.0.1": "loopback",  # compatible
    "2001:0:808:808::5601:5601": "cloud metadata",  # Teredo, client ~0x5601_5601
    "2001:0:a00:5::f7ff:fffe": "private",  # Teredo via server 10.0.0.5
}


@pytest.mark.parametrize(("address", "reason"), sorted(EMBEDDED_REFUSED.items()))
def test_ipv6_embedding_a_refused_ipv4_gets_its_reason(address: str, reason: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason
    with pytest.raises(DestinationError, match=rf"carrying .*\({reason} address\)"):
        pin_url("https://hooks.example.org/x", AddressPolicy(), lambda h, p: [address])


def test_embedded_ipv4_is_extracted_from_each_form() -> None:
    def inner(text: str) -> list[str]:
        return [str(a) for a in embedded_ipv4(ipaddress.ip_address(text))]

    assert inner("64:ff9b::a9fe:a9fe") == ["169.254.169.254"]
    assert inner("2002:808:808::1") == ["8.8.8.8"]
    assert inner("::ffff:1.2.3.4") == ["1.2.3.4"]
    assert inner("::1.2.3.4") == ["1.2.3.4"]
    assert inner("2001:0:4136:e378:8000:63bf:3fff:fdd2") == ["192.0.2.45", "65.54.227.120"]
    assert inner("::1") == inner("::") == inner("2001:4860:4860::8888") == inner("8.8.8.8") == []


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8"])
def test_ipv6_carrying_a_public_ipv4_passes(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", ["::8.8.8.8", "2001:0:808:808::f7f7:f7f7"])
def test_deprecated_embeddings_are_refused_even_with_a_public_ipv4(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is not None


def test_nat64_loopback_is_admitted_only_by_an_allow_list() -> None:
    resolver = lambda h, p: ["64:ff9b::7f00:1"]  # noqa: E731
    with pytest.raises(DestinationError, match="loopback"):
        pin_url("http://hooks.example.org/", AddressPolicy(), resolver)
    by_cidr = AddressPolicy(allow_cidrs=["127.0.0.0/8"])
    assert pin_url("http://hooks.example.org/", by_cidr, resolver).address == "64:ff9b::7f00:1"
    by_host = AddressPolicy(allow_hosts=["hooks.example.org"])
    assert pin_url("http://hooks.example.org/", by_host, resolver).address == "64:ff9b::7f00:1"
    with pytest.raises(DestinationError, match="cloud metadata"):
        pin_url("http://x.example.org/", by_cidr, lambda h, p: ["64:ff9b::a9fe:a9fe"])


# Link-local and metadata addresses in every form, and what no allow-list entry opens.
NEVER = {
    "169.254.169.254": "cloud metadata",
    "169.254.170.2": "cloud metadata",
    "169.254.0.1": "link-local",
    "fd00:ec2::254": "cloud metadata",
    "100.100.100.200": "cloud metadata",
    "fe80::1": "link-local",
    "febf:ffff::1": "link-local",
    "::ffff:169.254.169.254": "cloud metadata",
    "::ffff:169.254.3.4": "link-local",
    "::ffff:100.100.100.200": "cloud metadata",
    "64:ff9b::a9fe:a9fe": "cloud metadata",
    "64:ff9b::6464:64c8": "cloud metadata",
    "2002:a9fe:a9fe::1": "cloud metadata",
    "::169.254.169.254": "cloud metadata",
    "2001:0:808:808::5601:5601": "cloud metadata",
}
EVERYTHING = AddressPolicy(
    allow_hosts=["hooks.example.org"],
    allow_cidrs=["0.0.0.0/0", "::/0", "169.254.0.0/16", "fe80::/10", "fd00::/8", "100.64.0.0/10"],
)


@pytest.mark.parametrize(("address", "reason"), sorted(NEVER.items()))
def test_link_local_and_metadata_are_never_reachable(address: str, reason: str) -> None:
    assert never_reason(ipaddress.ip_address(address)) == reason
    for host in ("hooks.example.org", "other.example.org"):  # allow-listed by name, or by CIDR
        with pytest.raises(DestinationError, match=rf"\({reason} address\), never reachable"):
            pin_url(f"https://{host}/x", EVERYTHING, lambda h, p: [address])
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(DestinationError, match="never reachable"):
        pin_url(f"http://{literal}/latest/meta-data/", EVERYTHING, lambda h, p: [])


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "100.64.0.1", "fd12::1", "8.8.8.8"])
def test_other_addresses_are_left_to_the_allow_list(address: str) -> None:
    assert never_reason(ipaddress.ip_address(address)) is None
    assert pin_host("hooks.example.org", 443, EVERYTHING, lambda h, p: [address]) == address


@pytest.mark.parametrize(
    "host", ["metadata.google.internal", "METADATA.google.internal.", "metadata"]
)
def test_metadata_names_are_refused_before_resolving(host: str) -> None:
    asked: list[str] = []

    def resolver(name: str, port: int) -> list[str]:
        asked.append(name)
        return ["8.8.8.8"]

    policy = AddressPolicy(allow_hosts=[host], allow_cidrs=["0.0.0.0/0"])
    with pytest.raises(DestinationError, match="cloud metadata service, never reachable"):
        AddressGuard(policy, resolver).pin_host(host, 80)
    with pytest.raises(DestinationError, match="never reachable"):
        pin_url(f"http://{host}/computeMetadata/v1/", policy, resolver)
    assert asked == []


def test_one_metadata_answer_among_allowed_ones_refuses_the_host() -> None:
    with pytest.raises(DestinationError, match=r"169\.254\.169\.254"):
        pin_host("hooks.example.org", 80, EVERYTHING, lambda h, p: ["127.0.0.1", "169.254.169.254"])
