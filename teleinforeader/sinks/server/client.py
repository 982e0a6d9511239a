"""One connected client: its socket and its bounded queue of lines not yet written.

Used only from the server thread. A line is handed to the kernel with one `send` when the
client is keeping up (the common case: nothing queued), so it arrives whole; what the kernel
does not take waits here until the socket is writable again. The queue is bounded in bytes:
`offer` answers -1 when a line would overflow it, and the server then drops the client.
"""

from __future__ import annotations

import contextlib
import socket
from collections import deque

READ_CHUNK = 65536  # what one readiness event may read from a chatty client; the rest waits
CLOSE_DRAIN_CHUNKS = 16  # a client still flooding us at close gets its reset after 1 MiB


class Client:
    __slots__ = (
        "address",
        "buffer_limit",
        "bytes_received",
        "pending",
        "queue",
        "sock",
        "writing",
    )

    def __init__(self, sock: socket.socket, address: str, buffer_limit: int) -> None:
        self.sock = sock
        self.address = address
        self.buffer_limit = buffer_limit
        self.queue: deque[memoryview] = deque()
        self.pending = 0  # bytes in `queue`
        self.bytes_received = 0
        self.writing = False  # registered for EVENT_WRITE: something is queued

    def offer(self, line: bytes) -> int:
        """Send or queue `line`; return the bytes the kernel took, or -1 when the queue is full.

        Raises OSError when the connection is broken.
        """
        if self.pending:
            if self.pending + len(line) > self.buffer_limit:
                return -1
            self.queue.append(memoryview(line))
            self.pending += len(line)
            return 0
        try:
            sent = self.sock.send(line)
        except BlockingIOError:
            sent = 0
        if sent < len(line):
            if len(line) - sent > self.buffer_limit:
                return -1
            self.queue.append(memoryview(line)[sent:])
            self.pending += len(line) - sent
        return sent

    def flush(self) -> int:
        """Write queued lines until the kernel refuses more; return the bytes written.

        Raises OSError when the connection is broken.
        """
        written = 0
        queue = self.queue
        while queue:
            head = queue[0]
            try:
                sent = self.sock.send(head)
            except BlockingIOError:
                break
            written += sent
            if sent < len(head):
                queue[0] = head[sent:]
                break
            queue.popleft()
        self.pending -= written
        return written

    def discard_input(self) -> bool:
        """Read (at most one chunk) and forget what the client sent; False once it hung up.

        Raises OSError when the connection is broken.
        """
        try:
            data = self.sock.recv(READ_CHUNK)
        except BlockingIOError:
            return True
        self.bytes_received += len(data)
        return bool(data)

    def close(self) -> None:
        """Hang up with a FIN, not a reset: unread input would make the kernel send RST."""
        try:
            for _ in range(CLOSE_DRAIN_CHUNKS):
                if not self.sock.recv(READ_CHUNK):
                    break
        except OSError:
            pass
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
