"""The web server sink: the page, the JSON API, the live stream, /metrics and /healthz.

Plan: `submit` (the pipeline's thread) keeps a reference to the latest frame, and only when a
browser is on the live stream also wakes the HTTP thread with one byte on a socketpair (at most
one wake-up in flight). With no browser connected a frame costs that one assignment.

One HTTP thread owns every socket through a selector, as the socket server does: it accepts
(allow list, `max_clients`), reads requests (`protocol.RequestReader`), answers what it can at
once (`routes.Routes`), hands history queries to the query thread (`queries.QueryWorker`) and
sends each new reading, encoded once, to every live stream. Each connection's output is bounded
(`connection`): a browser that stops reading is dropped. Idle connections are closed after
KEEP_ALIVE seconds, a request head must arrive within HEAD_TIMEOUT, and a live stream gets a
comment line every HEARTBEAT seconds so that a vanished peer is noticed on a silent line.
"""

from __future__ import annotations

import contextlib
import logging
import math
import selectors
import socket
import time
from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Callable

from teleinforeader.allowlist import AllowList
from teleinforeader.settings import HttpSettings
from teleinforeader.sinks import PipelineView
from teleinforeader.sinks.base import Sink, SinkStatus, Worker
from teleinforeader.sinks.database.history import History
from teleinforeader.sinks.http.connection import Connection
from teleinforeader.sinks.http.protocol import (
    HttpError,
    Reply,
    Request,
    Status,
    error_response,
    stream_head,
)
from teleinforeader.sinks.http.queries import QueryWorker, json_reply
from teleinforeader.sinks.server.network import (
    LISTENER,
    WAKE,
    configure_client,
    format_peer,
    listen,
)
from teleinforeader.sinks.wakeup import WakeChannel, stop_worker
from teleinforeader.tic import Frame

if TYPE_CHECKING:
    from teleinforeader.sinks.http.routes import Routes

log = logging.getLogger(__name__)

KEEP_ALIVE = 30.0  # seconds an idle connection stays open for its next request
HEAD_TIMEOUT = 10.0  # seconds to finish sending a request head once begun (slow senders)
HEARTBEAT = 15.0  # seconds between keep-alive comments on a live stream
ACCEPTS_PER_WAKE = 64
RETRY_MS = 3000  # how soon a browser reconnects its stream after losing it
_READ, _READ_WRITE = selectors.EVENT_READ, selectors.EVENT_READ | selectors.EVENT_WRITE


class HttpSink(Sink):
    """`address` is the bound (host, port) once started."""

    name = "http"

    def __init__(
        self,
        settings: HttpSettings,
        pipeline: PipelineView,
        *,
        silence_timeout: float,
        history: Callable[[], History] | None = None,
    ) -> None:
        self.settings = settings
        self._allow = AllowList(settings.allow)
        # The routes and all they import (the page, the views, /metrics) load on the first
        # request: most starts of the daemon never see one before long, and a Pi Zero pays
        # for every module it imports.
        self._routes_made: Callable[[], Routes] = partial(
            _routes, pipeline, silence_timeout, history is not None, time.monotonic()
        )
        self._routes: Routes | None = None
        self._queries = None if history is None else QueryWorker(history, self._answered)
        self._answers: deque[tuple[object, Reply]] = deque()
        self._latest: Frame | None = None
        self._streamed: Frame | None = None  # the latest frame the streams were sent
        self._event, self._event_of = b"", None  # its event, encoded once
        self._streams = 0  # live streams open: submit wakes the thread only when > 0
        self._wakeup = WakeChannel()
        self._stopping = False
        self._selector: selectors.BaseSelector | None = None
        self._listener: socket.socket | None = None
        self._connections: dict[int, Connection] = {}
        self._next_heartbeat = 0.0
        self.keep_alive = KEEP_ALIVE
        self._worker = Worker("http", self._serve)
        self.address: tuple[str, int] | None = None
        self._counters = {
            "requests": 0,
            "connects": 0,
            "refused": 0,  # outside the allow list, or over max_clients
            "bad_requests": 0,  # malformed, too large, or not GET/HEAD
            "dropped_slow": 0,  # stopped reading: disconnected
            "events_sent": 0,  # readings written to live streams, over all streams
            "history_busy": 0,  # history requests refused while the query queue was full
            "wakeups": 0,  # times the HTTP thread woke up: none per frame without a stream
        }

    # -- the pipeline's side -------------------------------------------------------------------

    def start(self) -> None:
        settings = self.settings
        self._listener, self.address, self._selector = listen(
            settings.host, settings.port, settings.max_clients, self._wakeup.reader
        )
        if self._queries is not None:
            self._queries.start()
        self._worker.start()
        log.info("web page and API on http://%s/", format_peer(self.address))

    def submit(self, frame: Frame) -> None:
        self._latest = frame
        if self._streams:
            self._wakeup.wake()

    def patience(self) -> float:
        """A browser on the live stream follows the frames; the API's readers may wait."""
        return 0.0 if self._streams else math.inf

    def close(self, timeout: float) -> None:
        self._stopping = True
        stop_worker(self._worker, self._wakeup, timeout)
        if self._queries is not None:
            self._queries.stop(timeout)

    def status(self) -> SinkStatus:
        counters = dict(self._counters)
        counters["clients"] = len(self._connections)
        counters["streams"] = self._streams
        alive = self._worker.healthy
        if self._queries is not None:
            counters["history_queries"] = self._queries.queries
            counters["history_errors"] = self._queries.errors
            alive = alive and self._queries.healthy
        return SinkStatus(alive=alive, backlog=0, progress=counters["requests"], counters=counters)

    def _answered(self, token: object, reply: Reply) -> None:
        """From the query thread: a history answer is ready."""
        self._answers.append((token, reply))
        self._wakeup.wake()

    # -- the HTTP thread -----------------------------------------------------------------------

    def _serve(self) -> None:
        assert self._selector is not None
        try:
            while not self._stopping:
                ready = self._selector.select(self._select_timeout())
                self._counters["wakeups"] += 1
                for key, events in ready:
                    if key.data is WAKE:
                        self._wakeup.drain()  # before the latest frame is looked at
                    elif key.data is LISTENER:
                        self._accept()
                    else:
                        self._service(key.data, events)
                self._deliver_answers()
                self._stream_latest()
                self._expire(time.monotonic())
        finally:
            self._hang_up_all()

    def _select_timeout(self) -> float | None:
        deadlines = [c.deadline for c in self._connections.values() if not c.waiting]
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _accept(self) -> None:
        assert self._listener is not None
        for _ in range(ACCEPTS_PER_WAKE):
            try:
                sock, peer = self._listener.accept()
            except (BlockingIOError, ConnectionAbortedError):
                return
            except OSError as exc:  # out of descriptors: the next round will tell
                log.error("cannot accept a connection: %s", exc)
                return
            self._counters["connects"] += 1
            address = format_peer(peer)
            if not self._allow.permits(peer[0]):
                self._refuse(sock, address, Status.FORBIDDEN, "address not allowed")
            elif len(self._connections) >= self.settings.max_clients:
                self._refuse(sock, address, Status.SERVICE_UNAVAILABLE, "too many clients")
            else:
                configure_client(sock)
                connection = Connection(sock, address, time.monotonic() + self.keep_alive)
                self._connections[sock.fileno()] = connection
                self._selector.register(sock, _READ, connection)  # type: ignore[union-attr]

    def _refuse(self, sock: socket.socket, address: str, status: int, why: str) -> None:
        self._counters["refused"] += 1
        log.info("refused %s: %s", address, why)
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.send(error_response(HttpError(status, why)))
            sock.shutdown(socket.SHUT_WR)
        sock.close()

    def _service(self, connection: Connection, events: int) -> None:
        if connection.sock.fileno() < 0:  # dropped earlier in this round
            return
        try:
            if events & selectors.EVENT_READ:
                if not connection.receive():
                    self._disconnect(connection)
                    return
                self._handle_requests(connection)
            if events & selectors.EVENT_WRITE and connection.sock.fileno() >= 0:
                connection.out.flush()
                self._after_write(connection)
        except OSError:
            self._disconnect(connection)

    def _handle_requests(self, connection: Connection) -> None:
        """Answer every complete request in order, stopping at one answered later."""
        while not connection.waiting and not connection.close_after and not connection.streaming:
            try:
                request = connection.reader.next_request()
            except HttpError as error:
                self._counters["bad_requests"] += 1
                connection.close_after = True
                self._send(connection, error_response(error))
                return
            if request is None:
                if connection.reader.pending:  # a head begun: it has HEAD_TIMEOUT to finish
                    connection.deadline = min(connection.deadline, time.monotonic() + HEAD_TIMEOUT)
                return
            self._counters["requests"] += 1
            self._answer(connection, request)

    def _answer(self, connection: Connection, request: Request) -> None:
        from teleinforeader.sinks.http.routes import STREAM, Deferred

        if self._routes is None:
            self._routes = self._routes_made()
        answer = self._routes.route(request, self._latest)
        if answer is STREAM:
            self._open_stream(connection, request)
        elif isinstance(answer, Deferred):
            assert self._queries is not None
            if self._queries.submit((connection, request), answer.job):
                connection.waiting = True
            else:
                self._counters["history_busy"] += 1
                busy = json_reply(Status.SERVICE_UNAVAILABLE, {"error": "history busy"})
                self._reply(connection, request, busy)
        else:
            assert isinstance(answer, Reply)
            self._reply(connection, request, answer)

    def _reply(self, connection: Connection, request: Request, reply: Reply) -> None:
        if not request.keep_alive:
            connection.close_after = True
        connection.deadline = time.monotonic() + self.keep_alive
        self._send(connection, reply.encode(request))

    def _deliver_answers(self) -> None:
        while self._answers:
            token, reply = self._answers.popleft()
            connection, request = token  # type: ignore[misc]
            if connection.sock.fileno() < 0:  # gone while its query ran
                continue
            connection.waiting = False
            self._reply(connection, request, reply)
            if connection.sock.fileno() >= 0:
                self._handle_requests(connection)  # requests pipelined behind it

    def _open_stream(self, connection: Connection, request: Request) -> None:
        head = stream_head("text/event-stream; charset=utf-8")
        if request.head_only:
            connection.start_stream()
            connection.close_after = True
            self._send(connection, head)
            return
        self._stream_latest()  # the other streams first, so that everyone is at one frame
        connection.start_stream()
        self._streams += 1
        if self._streams == 1:
            self._next_heartbeat = time.monotonic() + HEARTBEAT
            self.hurry_reader()
        connection.deadline = self._next_heartbeat
        first = head + f"retry: {RETRY_MS}\n\n".encode()
        if self._latest is not None:
            first += self._latest_event()
            self._counters["events_sent"] += 1
        self._send(connection, first)

    def _stream_latest(self) -> None:
        """Send a frame newer than the last one streamed to every live stream."""
        if self._latest is self._streamed:
            return
        self._streamed = self._latest
        if not self._streams:
            return
        message = self._latest_event()
        for connection in list(self._connections.values()):
            if connection.streaming and not connection.close_after:
                self._counters["events_sent"] += 1
                self._send(connection, message)

    def _latest_event(self) -> bytes:
        """The event of the frame last streamed, encoded once however many streams get it."""
        frame = self._streamed or self._latest
        assert frame is not None
        if self._event_of is not frame:
            from teleinforeader.sinks.http.routes import event

            self._event, self._event_of = event(frame), frame
        return self._event

    def _send(self, connection: Connection, data: bytes) -> None:
        """Write or queue `data`; a peer whose queue would overflow is dropped."""
        try:
            taken = connection.out.offer(data)
        except OSError:
            self._disconnect(connection)
            return
        if taken < 0:
            self._counters["dropped_slow"] += 1
            log.warning(
                "%s stopped reading (%d bytes waiting): disconnected",
                connection.address,
                connection.out.pending,
            )
            self._disconnect(connection)
            return
        self._after_write(connection)

    def _after_write(self, connection: Connection) -> None:
        out = connection.out
        if out.pending and not out.writing:
            out.writing = True
            self._selector.modify(connection.sock, _READ_WRITE, connection)  # type: ignore[union-attr]
        elif not out.pending:
            if connection.close_after:
                self._disconnect(connection)
            elif out.writing:
                out.writing = False
                self._selector.modify(connection.sock, _READ, connection)  # type: ignore[union-attr]

    def _expire(self, now: float) -> None:
        """Close idle connections; write a heartbeat comment on live streams when one is due."""
        heartbeat = self._streams and now >= self._next_heartbeat
        if heartbeat:
            self._next_heartbeat = now + HEARTBEAT
        for connection in list(self._connections.values()):
            if connection.streaming and not connection.close_after:
                if heartbeat:
                    connection.deadline = self._next_heartbeat
                    self._send(connection, b": keep-alive\n\n")
            elif now >= connection.deadline and not connection.waiting:
                self._disconnect(connection)

    def _disconnect(self, connection: Connection) -> None:
        if self._connections.pop(connection.sock.fileno(), None) is None:
            return
        if connection.streaming and not connection.close_after:
            self._streams -= 1
        self._selector.unregister(connection.sock)  # type: ignore[union-attr]
        connection.out.close()

    def _hang_up_all(self) -> None:
        for connection in list(self._connections.values()):
            self._disconnect(connection)
        if self._listener is not None:
            self._listener.close()
        if self._selector is not None:
            self._selector.close()
        self._wakeup.close()


def _routes(
    pipeline: PipelineView, silence_timeout: float, history: bool, started: float
) -> Routes:
    from teleinforeader.sinks.http.routes import Routes

    return Routes(pipeline, silence_timeout, history, started)
