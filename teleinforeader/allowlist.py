"""Which client addresses may connect: networks in CIDR notation, IPv4 and IPv6 alike.

Shared by every server the daemon runs. An IPv4 client reaches an IPv6 listener ("::") as an
IPv4-mapped address (`::ffff:192.0.2.1`); it is compared as the IPv4 address it is, and a
network written in the mapped form (`::ffff:192.168.1.0/120`) means the IPv4 network it maps
(192.168.1.0/24), so that both ways of writing a LAN allow the same clients. An IPv6 network
that holds the whole mapped range (`::/0`) holds every IPv4 client too.

`ipaddress` is imported only for a list that names networks: an empty one (the default, anyone)
costs a Pi Zero's start-up nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    import ipaddress

    IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def parse_network(text: str) -> tuple[IPNetwork, ...]:
    """The networks `text` allows (host bits ignored); ValueError if it is not a network."""
    import ipaddress

    mapped_range = ipaddress.IPv6Network("::ffff:0:0/96")
    network = ipaddress.ip_network(text.strip(), strict=False)
    if isinstance(network, ipaddress.IPv4Network):
        return (network,)
    if network.subnet_of(mapped_range):
        mapped = network.network_address.ipv4_mapped
        assert mapped is not None
        return (ipaddress.IPv4Network((mapped, network.prefixlen - mapped_range.prefixlen)),)
    if network.supernet_of(mapped_range):
        return (network, ipaddress.IPv4Network("0.0.0.0/0"))
    return (network,)


class AllowList:
    """Client networks allowed to connect; empty means everyone."""

    def __init__(self, networks: Iterable[str]) -> None:
        parsed: list[IPNetwork] = []
        for text in networks:
            try:
                parsed += parse_network(text)
            except ValueError as exc:
                raise ValueError(f"server.allow: {text!r} is not a network (CIDR): {exc}") from None
        self.networks = tuple(parsed)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def permits(self, host: str) -> bool:
        if not self.networks:
            return True
        import ipaddress  # loaded by the networks' parsing already

        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone (%eth0)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)
