"""The socket server sink: every frame, as one JSON line, to every TCP client.

Plan: `submit` (the reader thread) appends the frame to a bounded hand-off deque and, unless a
wake-up is already on its way, writes one byte to a socketpair; that is all it does, so it never
blocks. One server thread owns every socket through a selector: it accepts (allow list,
`max_clients`, a polite JSON refusal), encodes each frame once, offers the line to every client
and reads and forgets whatever clients send. A client whose bounded queue would overflow is
dropped, so a stuck client costs nothing to the others nor to the pipeline.

Lines to one client are paced (`[server] line_gap`, see client.py): frames that come together
(the plausibility guard releasing a held frame with the next one, a new frame just after the one
sent on connect) wait in that client's queue, in order, and the server thread wakes up when the
first of them is due. In the steady state a frame's line goes out at once, as without pacing.

With `[server] teleinfomonitor`, the line carries TeleInfoMonitor's ten labels mapped for any
meter (`teleinfomonitor_json_line`) instead of the meter's own groups.

With no client connected (the usual case on a Pi) nothing wakes the server thread for a frame:
`submit` only keeps it as the latest, and the latest frame is encoded when a client connects,
which then gets it at once. Which of the two `submit` does is decided under a lock, the same one
under which the server thread, when its first client comes or its last one goes, switches
between them, so that no frame falls between the latest and the hand-off.
"""

from __future__ import annotations

import errno
import logging
import math
import selectors
import socket
import threading
import time
from collections import deque

from teleinforeader.allowlist import AllowList
from teleinforeader.jsonline import error_line, frame_to_json_line, teleinfomonitor_json_line
from teleinforeader.settings import ServerSettings
from teleinforeader.sinks.base import Sink, SinkStatus, Worker
from teleinforeader.sinks.server.client import Client
from teleinforeader.sinks.server.connlog import ConnectionLog
from teleinforeader.sinks.server.network import (
    LISTENER,
    WAKE,
    configure_client,
    format_peer,
    listen,
)
from teleinforeader.sinks.wakeup import WakeChannel, stop_worker
from teleinforeader.tic import Frame

log = logging.getLogger(__name__)

HANDOFF_LIMIT = 256  # frames; the server thread lagging this far behind loses the oldest ones
ACCEPTS_PER_WAKE = 64  # a connection storm must not starve the frames
ACCEPT_PAUSE = 1.0  # seconds without accepting after the process ran out of descriptors
_READ, _READ_WRITE = selectors.EVENT_READ, selectors.EVENT_READ | selectors.EVENT_WRITE


class ServerSink(Sink):
    """The TCP JSON-lines broadcast; `address` is the bound (host, port) once started."""

    name = "server"

    def __init__(self, settings: ServerSettings, handoff_limit: int = HANDOFF_LIMIT) -> None:
        self.settings = settings
        self._allow = AllowList(settings.allow)
        self._handoff: deque[Frame] = deque(maxlen=handoff_limit)
        self._wakeup = WakeChannel()
        self._stopping = False
        self._close_deadline = 0.0
        self._selector: selectors.BaseSelector | None = None
        self._listener: socket.socket | None = None
        self._accept_paused_until: float | None = None
        self._clients: dict[int, Client] = {}
        self._paced: set[Client] = set()  # clients whose next line waits for its time
        # Under _feeding: whether frames go to the hand-off (someone listens) or only replace
        # the latest; the latest itself, while nobody listens.
        self._feeding = threading.Lock()
        self._listened = False
        self._latest: Frame | None = None
        self._encoded: tuple[Frame, bytes] | None = None  # the last frame encoded, and its line
        self._encode = teleinfomonitor_json_line if settings.teleinfomonitor else frame_to_json_line
        self.connection_log = ConnectionLog()  # clients come and go: a bounded number of lines
        self._worker = Worker("server", self._serve)
        self.address: tuple[str, int] | None = None
        self._counters = {
            "frames": 0,  # submitted
            "connects": 0,  # connections accepted by the kernel, refused ones included
            "refused": 0,  # over max_clients or outside the allow list
            "dropped_slow": 0,  # clients disconnected because their queue was full
            "disconnects": 0,  # served clients gone, for whatever reason
            "frames_sent": 0,  # lines handed to a client (sent or queued), over all clients
            "bytes_sent": 0,  # bytes the kernel took, over all clients
            "bytes_received": 0,  # bytes clients sent us, read and thrown away
            "handoff_dropped": 0,  # oldest frames lost because the server thread lagged
            "lines_skipped": 0,  # oldest waiting lines lost: frames came faster than line_gap
        }

    # -- the pipeline's side -------------------------------------------------------------------

    def start(self) -> None:
        settings = self.settings
        self._listener, self.address, self._selector = listen(
            settings.host, settings.port, settings.max_clients, self._wakeup.reader
        )
        self._worker.start()
        log.info("serving JSON lines on %s", format_peer(self.address))

    def submit(self, frame: Frame) -> None:
        if self._stopping:
            return
        self._counters["frames"] += 1
        with self._feeding:
            if not self._listened:  # nobody to send it to: keep it for the next client
                self._latest = frame
                return
            handoff = self._handoff
            if len(handoff) == handoff.maxlen:
                self._counters["handoff_dropped"] += 1
            handoff.append(frame)
        self._wakeup.wake()

    def patience(self) -> float:
        """A client follows the frames live; with none, the latest may wait."""
        return 0.0 if self._listened else math.inf

    def close(self, timeout: float) -> None:
        self._close_deadline = time.monotonic() + timeout
        self._stopping = True
        stop_worker(self._worker, self._wakeup, timeout)

    def status(self) -> SinkStatus:
        counters = dict(self._counters)
        counters["clients"] = len(self._clients)
        return SinkStatus(
            alive=self._worker.healthy,
            backlog=len(self._handoff),
            progress=counters["frames"],
            counters=counters,
        )

    # -- the server thread ---------------------------------------------------------------------

    def _serve(self) -> None:
        assert self._selector is not None
        try:
            while True:
                for key, events in self._selector.select(self._select_timeout()):
                    if key.data is WAKE:
                        self._wakeup.drain()  # before the hand-off is read, in _broadcast
                    elif key.data is LISTENER:
                        self._accept()
                    else:
                        self._service(key.data, events)
                self._resume_accepting()
                self.connection_log.flush()
                self._broadcast()
                self._release_paced()
                if self._stopping:
                    self._stop_listening()
                    if not self._flushing():
                        break
        finally:
            self._hang_up_all()

    def _select_timeout(self) -> float | None:
        if self._stopping:
            deadlines = [self._close_deadline]
        else:
            deadlines = [self._accept_paused_until, self.connection_log.due()]
        if self._paced:
            deadlines.append(min(client.next_line_at for client in self._paced))
        due = min((deadline for deadline in deadlines if deadline is not None), default=None)
        return None if due is None else max(0.0, due - time.monotonic())

    def _flushing(self) -> bool:
        """Closing: is there still output worth waiting for?"""
        if time.monotonic() >= self._close_deadline:
            return False
        return any(client.pending for client in self._clients.values())

    def _broadcast(self) -> None:
        handoff = self._handoff
        while handoff:
            frame = self._latest = handoff.popleft()
            if self._clients:
                line = self._json_line(frame)
                now = time.monotonic()
                for client in list(self._clients.values()):
                    self._deliver(client, line, now)

    def _release_paced(self) -> None:
        """Write the lines whose time has come to the clients that wait for the pace."""
        if not self._paced:
            return
        now = time.monotonic()
        for client in [client for client in self._paced if client.next_line_at <= now]:
            try:
                self._counters["bytes_sent"] += client.flush(now)
            except OSError as exc:
                self._disconnect(client, f"connection lost ({exc.strerror or exc})")
                continue
            self._track(client)

    def _track(self, client: Client) -> None:
        """Wait for writability while a line is half written, for its time while one waits."""
        if client.head_started != client.writing:
            client.writing = client.head_started
            events = _READ_WRITE if client.writing else _READ
            self._selector.modify(client.sock, events, client)  # type: ignore[union-attr]
        if client.waiting_for_pace:
            self._paced.add(client)
        else:
            self._paced.discard(client)

    def _json_line(self, frame: Frame) -> bytes:
        """`frame` encoded, once whatever the number of clients that get it."""
        encoded = self._encoded
        if encoded is None or encoded[0] is not frame:
            encoded = self._encoded = (frame, self._encode(frame))
        return encoded[1]

    def _listen(self, listened: bool) -> None:
        """The first client came (True) or the last one went (False): switch what `submit`
        does with a frame. Going quiet, what the hand-off still holds only updates the latest."""
        with self._feeding:
            self._listened = listened
            while not listened and self._handoff:
                self._latest = self._handoff.popleft()
        if listened:
            self.hurry_reader()  # the frames resting in the line are the client's now

    def _deliver(self, client: Client, line: bytes, now: float) -> None:
        skipped = client.skipped
        try:
            sent = client.offer(line, now)
        except OSError as exc:
            self._disconnect(client, f"connection lost ({exc.strerror or exc})")
            return
        if sent < 0:
            self._counters["dropped_slow"] += 1
            log.warning(
                "client %s stopped reading (%d bytes waiting): disconnected",
                client.address,
                client.pending,
            )
            self._disconnect(client, None)
            return
        self._counters["frames_sent"] += 1
        self._counters["bytes_sent"] += sent
        if client.skipped != skipped:
            self._counters["lines_skipped"] += client.skipped - skipped
            if not skipped:
                self.connection_log.event(
                    "skipping",
                    logging.WARNING,
                    "client %s: frames come faster than [server] line_gap allows; "
                    "the oldest lines waiting for it are skipped",
                    client.address,
                )
        if client.queue or client.writing or self._paced:  # not in the steady state
            self._track(client)

    def _service(self, client: Client, events: int) -> None:
        if client.sock.fileno() < 0:  # dropped earlier in this round
            return
        try:
            if events & selectors.EVENT_READ:
                received = client.bytes_received
                open_ = client.discard_input()
                self._counters["bytes_received"] += client.bytes_received - received
                if not open_:
                    self._disconnect(client, "disconnected")
                    return
            if events & selectors.EVENT_WRITE:
                self._counters["bytes_sent"] += client.flush(time.monotonic())
                self._track(client)
        except OSError as exc:
            self._disconnect(client, f"connection lost ({exc.strerror or exc})")

    def _accept(self) -> None:
        assert self._listener is not None
        for _ in range(ACCEPTS_PER_WAKE):
            try:
                sock, peer = self._listener.accept()
            except BlockingIOError:
                return
            except ConnectionAbortedError:  # gone before we got to it
                continue
            except OSError as exc:
                if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    raise
                log.error("cannot accept a client (%s): pausing for %.0f s", exc, ACCEPT_PAUSE)
                self._selector.unregister(self._listener)  # type: ignore[union-attr]
                self._accept_paused_until = time.monotonic() + ACCEPT_PAUSE
                return
            self._counters["connects"] += 1
            address = format_peer(peer)
            if not self._allow.permits(peer[0]):
                self._refuse(sock, address, error_line("address not allowed"))
            elif len(self._clients) >= self.settings.max_clients:
                self._refuse(
                    sock,
                    address,
                    error_line("too many clients", max_clients=self.settings.max_clients),
                )
            else:
                self._welcome(sock, address)

    def _welcome(self, sock: socket.socket, address: str) -> None:
        configure_client(sock)
        settings = self.settings
        client = Client(sock, address, settings.client_buffer, settings.line_gap)
        if not self._listened:  # before the client shows: a frame submitted once it does is its
            self._listen(True)
        self._clients[sock.fileno()] = client
        self._selector.register(sock, _READ, client)  # type: ignore[union-attr]
        self.connection_log.event(
            "connected",
            logging.INFO,
            "client %s connected (%d connected)",
            address,
            len(self._clients),
        )
        latest = self._latest  # newer frames come through the hand-off
        if latest is not None:
            self._deliver(client, self._json_line(latest), time.monotonic())

    def _refuse(self, sock: socket.socket, address: str, line: bytes) -> None:
        """Say why in one JSON line, then hang up."""
        self._counters["refused"] += 1
        sock.setblocking(False)
        try:
            sock.send(line)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        sock.close()
        self.connection_log.event(
            "refused", logging.WARNING, "refused client %s: %s", address, line.decode().strip()
        )

    def _resume_accepting(self) -> None:
        paused_until = self._accept_paused_until
        if paused_until is not None and time.monotonic() >= paused_until and not self._stopping:
            self._accept_paused_until = None
            self._selector.register(self._listener, _READ, LISTENER)  # type: ignore[union-attr,arg-type]

    def _stop_listening(self) -> None:
        if self._listener is None:
            return
        if self._accept_paused_until is None:
            self._selector.unregister(self._listener)  # type: ignore[union-attr]
        self._listener.close()
        self._listener = None

    def _disconnect(self, client: Client, reason: str | None) -> None:
        self._clients.pop(client.sock.fileno(), None)
        self._paced.discard(client)
        self._selector.unregister(client.sock)  # type: ignore[union-attr]
        client.close()
        self._counters["disconnects"] += 1
        if not self._clients and not self._stopping:
            self._listen(False)
        if reason is not None:
            self.connection_log.event(
                "closed", logging.INFO, "client %s %s", client.address, reason
            )

    def _hang_up_all(self) -> None:
        for client in list(self._clients.values()):
            self._disconnect(client, None)
        self.connection_log.flush(force=True)
        self._stop_listening()
        if self._selector is not None:
            self._selector.close()
        self._wakeup.close()
