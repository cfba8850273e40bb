"""The SSRF address policy: which addresses are refused, how odd IPv4 spellings are read, and that the
guarded backend connects to the very address it checked."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

import httpcore
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import BlockedAddressError
from bot.netguard import AddressPolicy, GuardedBackend, classify_address, parse_host_address

BLOCKED = [
    ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("10.1.2.3", "private"),
    ("172.16.0.1", "private"), ("172.31.255.255", "private"), ("192.168.1.1", "private"),
    ("100.64.0.1", "shared"), ("169.254.169.254", "link-local"), ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "this network"), ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"), ("255.255.255.255", "broadcast"), ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"), ("203.0.113.9", "documentation"), ("198.18.0.1", "benchmarking"),
    ("192.0.0.8", "reserved"), ("192.88.99.1", "6to4 relay"),
    ("::1", "loopback"), ("::", "unspecified"), ("fe80::1", "link-local"), ("fc00::1", "unique local"),
    ("fd12:3456::1", "unique local"), ("ff02::1", "multicast"), ("fec0::1", "site-local"),
    ("::ffff:127.0.0.1", "loopback address (IPv4-mapped 127.0.0.1)"), ("::ffff:10.0.0.1", "private address (IPv4-mapped"),
    ("::ffff:169.254.169.254", "link-local"), ("::127.0.0.1", "loopback address (IPv4-compatible"),
    ("::8.8.8.8", "IPv4-compatible"), ("64:ff9b::a9fe:a9fe", "link-local address (NAT64"),
    ("64:ff9b:1::1", "local-use NAT64"), ("2002:7f00:1::", "loopback address (6to4 127.0.0.1)"),
    ("2002:c0a8:101::1", "private address (6to4"), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback address (Teredo"),  # client 127.0.0.1, obfuscated
    ("2001:db8::1", "documentation"), ("3fff::1", "documentation"), ("100::1", "discard-only"),
    ("2001:10::1", "reserved"), ("5f00::1", "reserved"), ("4000::1", "reserved"),
    ("fe80::1%eth0", "scoped"),
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "100.128.0.1", "172.32.0.1", "192.169.0.1", "223.255.255.255",
          "2606:4700:4700::1111", "2a00:1450:4001:82b::200e", "::ffff:8.8.8.8", "2002:808:808::1",
          "64:ff9b::808:808"]


@pytest.mark.parametrize(("address", "label"), BLOCKED)
def test_non_public_addresses_are_refused_with_a_reason(address: str, label: str) -> None:
    reason = classify_address(address)
    assert reason is not None and label in reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert classify_address(address) is None


@pytest.mark.parametrize(("host", "meant"), [
    ("127.0.0.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"), ("0x7F.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1"), ("0x7f000001", "127.0.0.1"),
    ("017700000001", "127.0.0.1"), ("127.0.0.1.", "127.0.0.1"), ("10.0.258", "10.0.1.2"), ("0", "0.0.0.0"),
    ("0x", "0.0.0.0"), ("::1", "::1"), ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"), ("8.8.8.8", "8.8.8.8"),
])
def test_ip_literals_in_any_spelling_mean_the_address_resolvers_read(host: str, meant: str) -> None:
    assert parse_host_address(host) == ip_address(meant)


@pytest.mark.parametrize("host", ["example.com", "localhost", "feeds.example.", "0x7f.example", "a1", "xn--bcher-kva.de"])
def test_hostnames_are_not_literals(host: str) -> None:
    assert parse_host_address(host) is None


@pytest.mark.parametrize("host", ["1.2.3.4.5", "256.1.1.1", "08.1.1.1", "foo.123", "0x100000000", "1.2.65536",
                                  "1..2", "4294967296", "0xg.1"])
def test_numeric_hosts_that_are_no_address_are_rejected(host: str) -> None:
    with pytest.raises(ValueError):
        parse_host_address(host)


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_ipv4_spelling_round_trips(number: int) -> None:
    ip = IPv4Address(number)
    octets = str(ip).split(".")
    assert parse_host_address(str(ip)) == ip
    assert parse_host_address(str(number)) == ip
    assert parse_host_address(hex(number)) == ip
    assert parse_host_address(".".join("0" + format(int(o), "o") for o in octets)) == ip
    assert parse_host_address(f"{octets[0]}.{int(octets[1]) * 65536 + int(octets[2]) * 256 + int(octets[3])}") == ip


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_ipv4_mapped_addresses_are_judged_like_their_ipv4(number: int) -> None:
    ip = IPv4Address(number)
    mapped = IPv6Address(f"::ffff:{ip}")
    assert (classify_address(mapped) is None) == (classify_address(ip) is None)


def test_policy_exemptions_and_the_allow_private_switch() -> None:
    strict = AddressPolicy.build(False)
    exempt = AddressPolicy.build(False, ["127.0.0.1", "192.168.7.0/24"])
    assert "loopback" in (strict.refusal(IPv4Address("127.0.0.1")) or "")
    assert exempt.refusal(IPv4Address("127.0.0.1")) is None
    assert exempt.refusal(IPv6Address("::ffff:127.0.0.1")) is None
    assert exempt.refusal(IPv4Address("192.168.7.200")) is None
    assert exempt.refusal(IPv4Address("127.0.0.2")) is not None
    assert AddressPolicy.build(True).refusal(IPv4Address("169.254.169.254")) is None
    with pytest.raises(ValueError):
        AddressPolicy.build(False, ["not-a-network"])


class ScriptedResolver:
    """Answers from a script, one answer list per call, and counts calls (a DNS server that rebinds)."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []

    async def resolve(self, host: str) -> Sequence[str]:
        self.calls.append(host)
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


class RecordingBackend(httpcore.AsyncMockBackend):
    """An inner backend that only records where it was asked to connect."""

    def __init__(self) -> None:
        super().__init__([])
        self.connected: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: object = None) -> httpcore.AsyncNetworkStream:
        self.connected.append((host, port))
        return await super().connect_tcp(host, port)


async def test_backend_connects_to_the_checked_address_and_never_asks_dns_twice() -> None:
    resolver = ScriptedResolver(["93.184.216.34"], ["127.0.0.1"])
    inner = RecordingBackend()
    backend = GuardedBackend(AddressPolicy(), resolver, inner)
    await backend.connect_tcp("rebind.example", 443)
    assert inner.connected == [("93.184.216.34", 443)] and resolver.calls == ["rebind.example"]
    with pytest.raises(BlockedAddressError, match="rebind.example resolves to 127.0.0.1, a loopback address"):
        await backend.connect_tcp("rebind.example", 443)  # a new connection is checked afresh
    assert inner.connected == [("93.184.216.34", 443)]


async def test_backend_refuses_a_mixed_answer_and_odd_spellings_before_connecting() -> None:
    inner = RecordingBackend()
    backend = GuardedBackend(AddressPolicy(), ScriptedResolver(["93.184.216.34", "10.0.0.7"]), inner)
    with pytest.raises(BlockedAddressError, match="resolves to 10.0.0.7, a private address"):
        await backend.connect_tcp("mixed.example", 80)
    with pytest.raises(BlockedAddressError, match="2130706433 means 127.0.0.1, a loopback address"):
        await backend.connect_tcp("2130706433", 80)
    with pytest.raises(BlockedAddressError, match="169.254.169.254 is a link-local address"):
        await backend.connect_tcp("169.254.169.254", 80)
    assert inner.connected == []


async def test_backend_reports_dns_failure_as_a_connect_error() -> None:
    class Failing:
        async def resolve(self, host: str) -> Sequence[str]:
            raise OSError(-2, "Name or service not known")

    with pytest.raises(httpcore.ConnectError, match="DNS lookup for nowhere.example failed: Name or service"):
        await GuardedBackend(AddressPolicy(), Failing(), RecordingBackend()).connect_tcp("nowhere.example", 80)
