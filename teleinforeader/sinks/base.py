"""What every sink (database writer, socket server, stdout printer) offers the pipeline.

The pipeline hands each frame to every sink's `submit` in order, from one thread at a time: the
reader thread, right after decoding and the guard (and at shutdown, once the reader has ended,
the main thread, with the frames the guard still held). `submit` must return at once: no
blocking, no I/O, since the next bytes of the line wait meanwhile. And it must not wake the
sink's thread for a frame the sink has nothing to do with (no client connected, a frame that
`store_interval` leaves out): on a Pi Zero's single core a wake-up costs more than a frame.
What a sink does when it cannot keep up is its own policy: the database never drops (memory,
then an on-disk spool), the socket server drops a client that stops reading. Each sink that
needs a thread runs its own `Worker`, so a crash is logged with its traceback and seen by the
daemon's supervision (`status().alive`), which then exits non-zero.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import threading
from collections.abc import Mapping
from typing import Callable

from teleinforeader.record import Record
from teleinforeader.tic import Frame

log = logging.getLogger(__name__)


class SinkStatus(Record):
    alive: bool  # False once a worker thread has died: the daemon exits non-zero
    backlog: int  # frames accepted but not yet fully handled
    progress: int  # grows whenever the sink does work (the watchdog judges `alive`, not this)
    counters: Mapping[str, int]  # sink-specific figures for the periodic summary line


class Sink(abc.ABC):
    """A destination for frames. Lifecycle: start() once, submit() many, close() once."""

    name: str = "sink"
    _hurry_reader: Callable[[], None] | None = None  # set by `on_hurry`

    def start(self) -> None:  # noqa: B027 - a sink with no thread has nothing to start
        """Open resources and start worker threads; raise on a fatal setup error."""

    @abc.abstractmethod
    def submit(self, frame: Frame) -> None:
        """Accept one frame without blocking the caller (the reader thread), and without
        waking the sink's own thread unless the frame gives it something to do."""

    def patience(self) -> float:
        """Seconds a frame may wait in the line before this sink needs it, asked by the
        reader before each read: 0 while someone follows the frames live (the default, for a
        sink that does not say), math.inf while nothing needs them. The reader rests for the
        shortest of the sinks' (a few seconds at most) and takes several frames at once."""
        return 0.0

    def on_hurry(self, hurry: Callable[[], None]) -> None:
        """The pipeline's way to end the reader's rest, for `hurry_reader`."""
        self._hurry_reader = hurry

    def hurry_reader(self) -> None:
        """For the sink itself, from any thread, when its `patience` drops (a client came):
        the reader takes what the line holds at once instead of resting on."""
        if self._hurry_reader is not None:
            self._hurry_reader()

    def wait_for_room(self, timeout: float) -> bool:
        """Called by the reader after a chunk of a source that can wait (a replay, the
        simulator; never a serial line): block, `timeout` seconds at most, while this sink
        holds more frames than it may keep in memory. True once it has room; a sink that keeps
        only the latest frame always has."""
        return True

    @abc.abstractmethod
    def close(self, timeout: float) -> None:
        """Stop accepting, drain what is pending (within `timeout` seconds), release all."""

    @abc.abstractmethod
    def status(self) -> SinkStatus:
        """A consistent snapshot for supervision, the watchdog and the summary line."""


_end_listeners: list[Callable[[], None]] = []  # called whenever a Worker thread ends


def watch_workers(listener: Callable[[], None]) -> Callable[[], None]:
    """Have `listener` called, from the ending thread, whenever a Worker ends (cleanly or
    not): the daemon's supervisor looks at its sinks then, instead of waking to poll them.
    `listener` must return at once; the function returned stops the calls."""
    _end_listeners.append(listener)
    return lambda: _end_listeners.remove(listener)


class Worker(threading.Thread):
    """A named daemon thread that logs a crash with its traceback and remembers it.

    Its name is also given to the kernel, so that `top -H`, `ps -L` and /proc show which of the
    daemon's threads uses the CPU or sleeps where.
    """

    def __init__(self, name: str, target: Callable[[], None]) -> None:
        super().__init__(name=name, daemon=True)
        self._work = target
        self.crash: BaseException | None = None
        self.finished = False  # its work has returned or raised (before is_alive() turns False)

    def run(self) -> None:
        name_native_thread(self.name)
        try:
            self._work()
        except BaseException as exc:
            self.crash = exc
            log.critical("thread %s died", self.name, exc_info=True)
        finally:
            self.finished = True
            for listener in list(_end_listeners):
                listener()

    @property
    def healthy(self) -> bool:
        """Not dead of an exception (a thread that ended cleanly was asked to)."""
        return self.crash is None


def name_native_thread(name: str) -> None:
    """Name the calling thread for the kernel (Linux keeps 15 bytes); elsewhere, nothing."""
    # OSError: not Linux, or /proc not mounted; the name is only a help to whoever looks.
    comm = f"/proc/self/task/{threading.get_native_id()}/comm"
    with contextlib.suppress(OSError), open(comm, "w") as kernel_name:
        kernel_name.write(name[:15])
