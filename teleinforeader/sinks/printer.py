"""The `--print` sink: every frame as one JSON line on stdout, for `| jq` and quick checks.

The lines are exactly the socket server's (`teleinforeader.jsonline`). Writing happens in the
sink's own thread: a pipe whose reader is slow (or paused in a pager) blocks that thread only.
Policy when it cannot keep up: frames beyond `capacity` waiting lines are dropped and counted,
never queued without bound. The output is flushed whenever the queue runs empty, so a line
reaches `jq` as soon as its frame is decoded, without a system call per line under load.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import time
from typing import BinaryIO

from teleinforeader.jsonline import frame_to_json_line
from teleinforeader.sinks.base import Sink, SinkStatus, Worker
from teleinforeader.tic import Frame

log = logging.getLogger(__name__)

CAPACITY = 10_000  # frames: hours of a live line, seconds of a fast replay
_END = None


class PrinterSink(Sink):
    name = "print"

    def __init__(self, stream: BinaryIO, capacity: int = CAPACITY) -> None:
        self._stream = stream
        self._queue: queue.Queue[Frame | None] = queue.Queue(capacity)
        self._worker = Worker("print", self._write_lines)
        self._written = 0
        self._dropped = 0
        self._broken = False

    def start(self) -> None:
        self._worker.start()

    def submit(self, frame: Frame) -> None:
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            self._dropped += 1

    def close(self, timeout: float) -> None:
        if self._worker.is_alive():
            deadline = time.monotonic() + timeout
            # A full queue means the writer is stuck on the stream: the join gives up in time.
            with contextlib.suppress(queue.Full):
                self._queue.put(_END, timeout=timeout)
            self._worker.join(max(deadline - time.monotonic(), 0.0))
        if self._worker.is_alive() or self._broken:
            log.warning("about %d lines were not written to stdout", self._queue.qsize())

    def status(self) -> SinkStatus:
        return SinkStatus(
            alive=self._worker.healthy and not self._broken,
            backlog=self._queue.qsize(),
            progress=self._written,
            counters={"written": self._written, "dropped": self._dropped},
        )

    def _write_lines(self) -> None:
        try:
            while True:
                frame = self._queue.get()
                if frame is _END:
                    break
                self._stream.write(frame_to_json_line(frame))
                self._written += 1
                if self._queue.empty():
                    self._stream.flush()
            self._stream.flush()
        except BrokenPipeError:
            # `| head` is done with us: no traceback, but the daemon must notice and stop.
            log.error("stdout was closed: no more --print lines")
            self._broken = True
