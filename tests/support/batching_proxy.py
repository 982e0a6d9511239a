"""A TCP proxy on 127.0.0.1 that batches, as Wi-Fi aggregation, a VPN or a busy desktop do:
whatever the server sends within `window` seconds of a first byte reaches the client in one
send, so two lines sent close together arrive in one read."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time

WINDOW = 0.1  # seconds
CONNECT_TIMEOUT = 15.0  # the upstream server may still be starting: retry that long


class BatchingProxy:
    """Listens on `address`; each connection is forwarded to `upstream` (retried until it
    listens), and what comes back is held `window` seconds from its first byte, then sent on."""

    def __init__(self, upstream: tuple[str, int], window: float = WINDOW) -> None:
        self.upstream = upstream
        self.window = window
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address: tuple[str, int] = self.listener.getsockname()[:2]
        self.batches = 0  # sends to clients
        self.joined = 0  # sends that carried more than one line
        self._closing = False
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._spawn(self._forward, client)

    def _connect_upstream(self) -> socket.socket | None:
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while not self._closing:
            try:
                server = socket.create_connection(self.upstream, timeout=1.0)
            except OSError:
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.02)
                continue
            server.settimeout(None)
            return server
        return None

    def _forward(self, client: socket.socket) -> None:
        server = self._connect_upstream()
        if server is None:
            client.close()
            return
        selector = selectors.DefaultSelector()
        selector.register(server, selectors.EVENT_READ)
        selector.register(client, selectors.EVENT_READ)
        try:
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if client in ready and not client.recv(65536):
                    return  # the client hung up (what it sends is not forwarded: nobody needs it)
                if server in ready:
                    batch, open_ = self._batch(server)
                    if batch:  # counted first: the client may act on it at once
                        self.batches += 1
                        self.joined += batch.count(b"\n") > 1
                        client.sendall(batch)
                    if not open_:
                        client.shutdown(socket.SHUT_WR)
                        return
        except OSError:
            return
        finally:
            selector.close()
            server.close()
            client.close()

    def _batch(self, server: socket.socket) -> tuple[bytes, bool]:
        """What the server sends within the window after its first byte; False once it closed."""
        data = server.recv(65536)
        if not data:
            return b"", False
        deadline = time.monotonic() + self.window
        while (remaining := deadline - time.monotonic()) > 0:
            server.settimeout(remaining)
            try:
                more = server.recv(65536)
            except socket.timeout:
                break
            finally:
                server.settimeout(None)
            if not more:
                return data, False
            data += more
        return data, True

    def close(self) -> None:
        self._closing = True
        with contextlib.suppress(OSError):
            self.listener.close()
