"""One browser (or scraper) connection: its requests in, its responses out, its deadlines.

Used only from the HTTP thread. Output goes through the socket server's `Client` (one `send`
when the peer keeps up, a queue bounded in bytes otherwise), so a peer that stops reading is
dropped the same way: responses are bounded (history is capped), and a live stream gets a
smaller bound than a response, since a stalled tab must not hold minutes of frames.
"""

from __future__ import annotations

import socket

from teleinforeader.sinks.http.protocol import RequestReader
from teleinforeader.sinks.server.client import READ_CHUNK, Client

RESPONSE_BUFFER = 512 * 1024  # bytes queued for a reader of responses (history is ~100 KiB)
STREAM_BUFFER = 128 * 1024  # bytes queued for a live stream: ~100 frames, a minute or two
UNREAD_LIMIT = 64 * 1024  # bytes of requests pipelined ahead of their answers, at most


class Connection:
    __slots__ = ("address", "close_after", "deadline", "out", "reader", "streaming", "waiting")

    def __init__(self, sock: socket.socket, address: str, deadline: float) -> None:
        self.address = address
        self.out = Client(sock, address, RESPONSE_BUFFER)
        self.reader = RequestReader()
        self.streaming = False  # the connection now carries the live event stream
        self.waiting = False  # a response is being prepared elsewhere (history): hold the rest
        self.close_after = False  # hang up once the queued output is written
        self.deadline = deadline  # monotonic time after which an idle connection is closed

    @property
    def sock(self) -> socket.socket:
        return self.out.sock

    def receive(self) -> bool:
        """Read what the peer sent (one chunk at most); False once it hung up, or sent more
        requests ahead of their answers than we keep.

        Raises OSError when the connection is broken.
        """
        try:
            data = self.sock.recv(READ_CHUNK)
        except BlockingIOError:
            return True
        if not data:
            return False
        if not self.streaming:  # a stream's peer has nothing more to say: ignore it
            self.reader.feed(data)
        return self.reader.pending <= UNREAD_LIMIT

    def start_stream(self) -> None:
        self.streaming = True
        self.out.buffer_limit = STREAM_BUFFER
