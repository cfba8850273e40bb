"""Which addresses a feed may make us contact: every non-public range named, and the policy's exemptions.

Pure: no sockets, no DNS. bot.netguard resolves host names and asks this module about each answer;
keeping the address rules apart lets them be read (and tested) as the table they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

_V4_BLOCKS: tuple[tuple[IPv4Network, str], ...] = tuple((IPv4Network(net), label) for net, label in (
    ("0.0.0.0/32", "an unspecified address"),
    ("0.0.0.0/8", "a reserved ('this network') address"),
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"),
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "a reserved (IETF protocol) address"),
    ("192.0.2.0/24", "a documentation address"),
    ("192.88.99.0/24", "a reserved (6to4 relay) address"),
    ("192.168.0.0/16", "a private address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("255.255.255.255/32", "the broadcast address"),
    ("240.0.0.0/4", "a reserved address"),
))

_V6_BLOCKS: tuple[tuple[IPv6Network, str], ...] = tuple((IPv6Network(net), label) for net, label in (
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("64:ff9b:1::/48", "a local-use NAT64 address"),
    ("100::/64", "a discard-only address"),
    ("2001::/32", "a Teredo tunnel address"),
    ("2001::/23", "a reserved (IETF protocol) address"),
    ("2001:db8::/32", "a documentation address"),
    ("3fff::/20", "a documentation address"),
    ("fc00::/7", "a unique local (private) address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
))
_V6_GLOBAL_UNICAST = IPv6Network("2000::/3")
_V4_MAPPED = IPv6Network("::ffff:0:0/96")
_V4_COMPATIBLE = IPv6Network("::/96")
_NAT64 = IPv6Network("64:ff9b::/96")


def _embedded_v4(address: IPv6Address) -> tuple[IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), since that is where packets go."""
    if address in _V4_MAPPED:
        return IPv4Address(int(address) & 0xFFFFFFFF), "IPv4-mapped"
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    if address in _V4_COMPATIBLE and int(address) > 1:
        return IPv4Address(int(address) & 0xFFFFFFFF), "IPv4-compatible"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    if address.teredo is not None:
        server, client = address.teredo
        return (client if classify_address(client) else server), "Teredo"
    return None


def classify_address(address: IPAddress | str) -> str | None:
    """Why we refuse to contact this address (e.g. "a loopback address"), or None when it is public."""
    ip = ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, IPv4Address):
        for net4, label in _V4_BLOCKS:
            if ip in net4:
                return label
        return None if ip.is_global else "a non-public address"
    if ip.scope_id:
        return "a scoped (link-local) address"
    embedded = _embedded_v4(ip)
    if embedded is not None and (inner := classify_address(embedded[0])) is not None:
        return f"{inner} ({embedded[1]} {embedded[0]})"
    for net, label in _V6_BLOCKS:
        if ip in net:
            return label
    if ip in _V4_COMPATIBLE:
        return "a deprecated IPv4-compatible address"
    if ip in _V4_MAPPED or ip in _NAT64 or ip in _V6_GLOBAL_UNICAST:
        return None
    return "a reserved address"


def _ipv4_part(text: str) -> int:
    """One dotted part as inet_aton reads it: 0x hex, leading-zero octal, else decimal."""
    if text[:2].lower() == "0x":
        return int(text[2:] or "0", 16)
    if len(text) > 1 and text.startswith("0"):
        return int(text[1:], 8)
    if not text.isdigit():
        raise ValueError(text)
    return int(text)


def parse_host_address(host: str) -> IPAddress | None:
    """The address a URL host literally names, reading odd IPv4 spellings (2130706433, 0x7f.1, 127.1)
    the way resolvers do; None for a real hostname; ValueError for a numeric host that is no address."""
    host = host.strip("[]")
    if ":" in host:
        return IPv6Address(host)
    parts = host[:-1].split(".") if host.endswith(".") else host.split(".")
    last = parts[-1].lower()
    if not last or not (last.isdigit() or (last.startswith("0x") and all(c in "0123456789abcdef" for c in last[2:]))):
        return None  # a hostname: the last label of a name is never a number
    try:
        values = [_ipv4_part(part) for part in parts]
    except ValueError:
        raise ValueError(f"{host!r} is neither a hostname nor a valid IPv4 address") from None
    if len(values) > 4 or any(v > 255 for v in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise ValueError(f"{host!r} is neither a hostname nor a valid IPv4 address")
    number = values[-1]
    for index, value in enumerate(values[:-1]):
        number += value << (8 * (3 - index))
    return IPv4Address(number)


@dataclass(frozen=True)
class AddressPolicy:
    """Which resolved addresses may be contacted: public ones always, others only by explicit choice."""

    allow_private: bool = False
    allowed: tuple[IPNetwork, ...] = ()  # exemptions, e.g. one intranet feed server

    @classmethod
    def build(cls, allow_private: bool, allowed_networks: Iterable[str] = ()) -> AddressPolicy:
        """Parse exemptions like "10.1.2.3" or "192.168.5.0/24" once, failing loudly on typos."""
        return cls(allow_private, tuple(ip_network(n.strip(), strict=False) for n in allowed_networks))

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` must not be contacted under this policy, or None if it may."""
        if self.allow_private:
            return None
        candidates = [address]
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        if any(c in net for c in candidates for net in self.allowed if c.version == net.version):
            return None
        return classify_address(address)
