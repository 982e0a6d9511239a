"""Listening sockets, client socket options and the allow list, on their own."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from teleinforeader.allowlist import AllowList
from teleinforeader.sinks.server.network import (
    KEEPALIVE_IDLE,
    configure_client,
    format_peer,
    open_listener,
)


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback here")


def test_allow_list_matches_ipv4_ipv6_and_mapped_addresses() -> None:
    allow = AllowList(["192.168.1.0/24", "10.1.2.3", "fd00::/8"])
    assert allow
    assert allow.permits("192.168.1.77")
    assert allow.permits("10.1.2.3")
    assert not allow.permits("10.1.2.4")
    assert allow.permits("::ffff:192.168.1.77")  # an IPv4 client seen by a "::" listener
    assert not allow.permits("::ffff:192.168.2.1")
    assert allow.permits("fd12:3456::1")
    assert allow.permits("fd12:3456::1%eth0")
    assert not allow.permits("2001:db8::1")
    assert not allow.permits("not-an-address")


def test_empty_allow_list_permits_everyone() -> None:
    allow = AllowList([])
    assert not allow
    assert allow.permits("203.0.113.9") and allow.permits("2001:db8::1")


def test_host_bits_are_accepted_in_a_network() -> None:
    assert AllowList(["192.168.1.10/24"]).permits("192.168.1.200")


@pytest.mark.parametrize("bad", ["192.168.1.0/33", "lan", "", "10.0.0.0/8/8"])
def test_malformed_network_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ValueError, match=r"server\.allow: .* is not a network"):
        AllowList(["127.0.0.0/8", bad])


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("::ffff:192.168.1.0/120", "192.168.1.0/24"),
        ("::ffff:c0a8:100/120", "192.168.1.0/24"),
        ("::ffff:10.1.2.3", "10.1.2.3/32"),
        ("::ffff:0.0.0.0/96", "0.0.0.0/0"),
    ],
)
def test_an_ipv4_mapped_network_means_the_ipv4_network(written: str, meant: str) -> None:
    allow = AllowList([written])
    assert [str(network) for network in allow.networks] == [meant]
    first = next(iter(ipaddress.ip_network(meant)))
    assert allow.permits(str(first)) and allow.permits(f"::ffff:{first}")  # either listener


def test_an_ipv4_mapped_network_allows_exactly_its_addresses() -> None:
    allow = AllowList(["::ffff:192.168.1.0/120"])
    assert allow.permits("192.168.1.7") and allow.permits("::ffff:192.168.1.255")
    assert not allow.permits("192.168.2.1") and not allow.permits("::ffff:192.168.0.255")


@pytest.mark.parametrize("wider", ["::/0", "::ffff:0:0/95", "::/64"])
def test_a_network_holding_every_mapped_address_holds_every_ipv4_client(wider: str) -> None:
    allow = AllowList([wider])
    assert allow.permits("192.0.2.1") and allow.permits("::ffff:192.0.2.1")
    assert not AllowList(["fd00::/8"]).permits("192.0.2.1")


def test_format_peer() -> None:
    assert format_peer(("192.0.2.1", 50007)) == "192.0.2.1:50007"
    assert format_peer(("2001:db8::1", 50007, 0, 0)) == "[2001:db8::1]:50007"


def test_ipv4_listener_on_an_ephemeral_port() -> None:
    with open_listener("127.0.0.1", 0) as listener:
        host, port = listener.getsockname()
        assert host == "127.0.0.1" and port > 0
        assert listener.getblocking() is False


@needs_ipv6
def test_unspecified_ipv6_host_also_accepts_ipv4() -> None:
    with open_listener("::", 0) as listener:
        port = listener.getsockname()[1]
        listener.setblocking(True)
        for address in (("127.0.0.1", port), ("::1", port)):
            with socket.create_connection(address, timeout=10):
                peer, _ = listener.accept()
                peer.close()


@needs_ipv6
def test_ipv6_loopback_listener() -> None:
    with open_listener("::1", 0) as listener:
        assert listener.family == socket.AF_INET6
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", listener.getsockname()[1]), timeout=10)


def test_port_in_use_is_an_error() -> None:
    with open_listener("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=rf"cannot listen on 127\.0\.0\.1:{port}: .*in use"):
            open_listener("127.0.0.1", port)


def test_unknown_host_is_an_error_naming_it() -> None:
    with pytest.raises(OSError, match=r"cannot listen on no-such-host\.invalid:50007"):
        open_listener("no-such-host.invalid", 50007)


def test_client_socket_options() -> None:
    with open_listener("127.0.0.1", 0) as listener:
        listener.setblocking(True)
        with socket.create_connection(listener.getsockname(), timeout=10):
            peer, _ = listener.accept()
            with peer:
                configure_client(peer)
                assert peer.getblocking() is False
                assert peer.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
                assert peer.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                if hasattr(socket, "TCP_KEEPIDLE"):
                    idle = peer.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
                    assert idle == KEEPALIVE_IDLE
