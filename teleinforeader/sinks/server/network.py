"""The socket plumbing of the servers (JSON lines, web): the listener and per-client options.

Kept apart from the event loop so each piece can be checked on its own: which family a host
name means, whether "::" also takes IPv4. The allow list is `teleinforeader.allowlist`.
"""

from __future__ import annotations

import selectors
import socket

from teleinforeader.record import Record

LISTEN_BACKLOG = 128  # at least; a full accept queue makes a connecting client wait a second
# A silent peer (unplugged laptop, sleeping phone) is noticed after about two minutes.
KEEPALIVE_IDLE = 60
KEEPALIVE_INTERVAL = 10
KEEPALIVE_COUNT = 6
# The kernel's own queue per client, on top of `client_buffer`: left to autotuning it grows to
# megabytes for a client that stopped reading, too much for a Pi with many clients.
SEND_BUFFER = 64 * 1024


def open_listener(host: str, port: int, backlog: int = LISTEN_BACKLOG) -> socket.socket:
    """A non-blocking listening socket; "::" also accepts IPv4 where the system allows it.

    Raises OSError naming the address (port taken, no such host or interface).
    """
    try:
        infos = socket.getaddrinfo(
            _host_argument(host), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, _, _, _, address = infos[0]
        dual_stack = family == socket.AF_INET6 and socket.has_dualstack_ipv6()
        listener = socket.create_server(
            address,
            family=family,
            backlog=max(backlog, LISTEN_BACKLOG),
            dualstack_ipv6=dual_stack and _is_unspecified(address[0]),
        )
    except OSError as error:
        where = format_peer((host, port))
        raise OSError(error.errno, f"cannot listen on {where}: {error.strerror}") from error
    listener.setblocking(False)
    return listener


def _host_argument(host: str) -> bytes | str | None:
    """`host` for getaddrinfo, which encodes a str with the idna codec: that codec's import
    (with stringprep and unicodedata) costs a Pi Zero at every start, for a host name that is
    nearly always ASCII (an address), given as bytes, unchanged. None: every interface."""
    if not host:
        return None
    return host.encode("ascii") if host.isascii() else host


def _is_unspecified(address: str) -> bool:
    """ "::" (or "0.0.0.0"), whatever its spelling."""
    import ipaddress  # only for an IPv6 listener: a start as installed listens on 0.0.0.0

    return ipaddress.ip_address(address).is_unspecified


# What a server thread's selector says woke it (`SelectorKey.data`), besides its clients.
LISTENER, WAKE = object(), object()


class Listening(Record):
    listener: socket.socket
    address: tuple[str, int]
    selector: selectors.BaseSelector


def listen(host: str, port: int, backlog: int, wake: socket.socket) -> Listening:
    """A server thread's start: its listener, and the selector it sleeps in, watching the
    listener (data LISTENER) and the reader of its wake channel (data WAKE)."""
    listener = open_listener(host, port, backlog)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, LISTENER)
    selector.register(wake, selectors.EVENT_READ, WAKE)
    return Listening(listener, listener.getsockname()[:2], selector)


def format_peer(address: tuple) -> str:
    """An address as people write it: 192.0.2.1:50007, [2001:db8::1]:50007."""
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def configure_client(sock: socket.socket) -> None:
    """Non-blocking, no Nagle delay (each send is a whole line), keepalive, a small kernel queue."""
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        if hasattr(socket, option):  # Linux has all three; other systems keep their defaults
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
