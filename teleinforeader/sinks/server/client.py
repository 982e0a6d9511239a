"""One connected client: its socket and its bounded queue of lines not yet written.

Used only from the server thread. Lines are paced: a new line starts at least `line_gap`
seconds after the previous one started, so that a client that keeps up receives one line per
read even through a link that batches what arrives close together (Wi-Fi, a VPN, a busy
desktop), which TeleInfoMonitor needs: it decodes each 1024-byte read as one JSON object. A line
whose time has come is handed to the kernel with one `send`, so it arrives whole; what the
kernel does not take is finished as soon as the socket is writable again, without waiting.

The queue is bounded in bytes. When a line would overflow it, `offer` answers -1 if the client
is not reading (the kernel refused part of a line), and the server drops the client. A client
that reads everything but gets lines faster than the pace allows (a replay faster than the
meter's line) loses the oldest waiting lines instead, counted in `skipped`. With no gap (the
default, and the web server's connections), every line is written as soon as the kernel takes
it, and a full queue always means a peer that does not read.
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
        "head_started",
        "line_gap",
        "next_line_at",
        "pending",
        "queue",
        "skipped",
        "sock",
        "writing",
    )

    def __init__(
        self, sock: socket.socket, address: str, buffer_limit: int, line_gap: float = 0.0
    ) -> None:
        self.sock = sock
        self.address = address
        self.buffer_limit = buffer_limit
        self.line_gap = line_gap
        self.queue: deque[memoryview] = deque()  # oldest first
        self.pending = 0  # bytes in `queue`
        self.head_started = False  # the kernel took part of the head line: finish it first
        self.next_line_at = 0.0  # monotonic time before which no new line starts
        self.skipped = 0  # lines lost because they came faster than the pace allows
        self.bytes_received = 0
        self.writing = False  # registered for EVENT_WRITE: the head line is half written

    @property
    def waiting_for_pace(self) -> bool:
        """Whole lines wait for their time (the server must wake up at `next_line_at`)."""
        return bool(self.queue) and not self.head_started

    def offer(self, line: bytes, now: float = 0.0) -> int:
        """Send `line` now if its time has come, else queue it; return the bytes the kernel
        took, or -1 when the queue is full and the client is not reading. `now` is the
        monotonic time; without a gap (the web server's connections) it does not matter.

        Raises OSError when the connection is broken.
        """
        if self.queue or now < self.next_line_at:
            self.queue.append(memoryview(line))
            self.pending += len(line)
            written = self.flush(now)
        else:  # the steady state: nothing waits, the line's time has come
            self.next_line_at = now + self.line_gap
            written = self._send(line)
        if self.pending > self.buffer_limit:
            if self.head_started:
                return -1
            self._skip_oldest()
        return written

    def flush(self, now: float = 0.0) -> int:
        """Finish the half-written line, then start the next one if its time has come (with a
        zero gap, every line waiting); return the bytes written.

        Raises OSError when the connection is broken.
        """
        written = 0
        queue = self.queue
        while queue and (self.head_started or now >= self.next_line_at):
            if not self.head_started:
                self.next_line_at = now + self.line_gap
            head = queue.popleft()
            self.pending -= len(head)
            written += self._send(head)
            if self.head_started:
                break
        return written

    def _send(self, line: bytes | memoryview) -> int:
        """Hand `line` (not queued) to the kernel; what it does not take goes first in the
        queue, to be finished when the socket is writable."""
        try:
            sent = self.sock.send(line)
        except BlockingIOError:
            sent = 0
        self.head_started = sent < len(line)
        if self.head_started:
            self.queue.appendleft(memoryview(line)[sent:])
            self.pending += len(line) - sent
        return sent

    def _skip_oldest(self) -> None:
        """Forget the oldest waiting lines until the rest fit (none is half written)."""
        queue = self.queue
        while self.pending > self.buffer_limit:
            self.pending -= len(queue.popleft())
            self.skipped += 1

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
