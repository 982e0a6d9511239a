"""How one thread wakes another that sleeps in a select(), and how a sink's `close` stops its
thread.

The thread sleeps in a select() (a sink's selector, paho's loop, or `wait` for the daemon's
supervisor) that also watches `reader`; another thread wakes it with one byte, and at most one
byte is ever in flight, so a frame a second costs at most one write, never a growing pipe. The
socket server, the web server, the MQTT sink and the supervisor all work this way. `wake` takes
no lock, so a signal handler may call it too: the handler runs in the main thread between two
bytecodes, maybe while that thread holds a lock of `threading` (an Event's, or the one
`Thread.start` takes), where setting an Event or starting a thread could deadlock.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket

from teleinforeader.sinks.base import Worker

log = logging.getLogger(__name__)


class WakeChannel:
    """One byte on a socketpair: `wake` from any thread, `drain` from the sink's thread."""

    def __init__(self) -> None:
        self.reader, self._writer = socket.socketpair()
        self.reader.setblocking(False)
        self._writer.setblocking(False)
        self._pending = False

    def wake(self) -> None:
        """Wake the thread, unless a byte is on its way already. Set what the thread is woken
        for before calling this: the thread looks at it after `drain`."""
        if not self._pending:
            self._pending = True
            # OSError: full (a wake-up is pending anyway) or closed (the thread is gone)
            with contextlib.suppress(OSError):
                self._writer.send(b"\0")

    def drain(self) -> None:
        """Once `reader` is readable. One read is enough: at most a few bytes wait, and a
        select() is level-triggered, so anything left wakes the thread again."""
        with contextlib.suppress(BlockingIOError):
            self.reader.recv(4096)
        # After the read (a byte sent meanwhile must stay to wake us), and before the thread
        # looks at what it was woken for (anything set before this line is seen this round).
        self._pending = False

    def wait(self, timeout: float) -> None:
        """For a thread with nothing else to watch: sleep until `wake` or `timeout` seconds."""
        select.select([self.reader], [], [], max(timeout, 0.0))
        self.drain()

    def close(self) -> None:
        self.reader.close()
        self._writer.close()


def stop_worker(worker: Worker, wakeup: WakeChannel, timeout: float) -> None:
    """The end of a sink's `close`, once it has said it is stopping: wake its thread and wait
    for it (`timeout` plus a second); a thread never started has its channel closed here (a
    started one closes it as it ends)."""
    if worker.ident is None:
        wakeup.close()
        return
    wakeup.wake()
    worker.join(timeout + 1.0)
    if worker.is_alive():
        log.error("%s thread did not stop within %.1f s", worker.name, timeout + 1.0)
