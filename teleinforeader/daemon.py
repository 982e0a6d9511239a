"""The daemon: source -> reader thread (decode, guard, hand-off) -> sinks.

Plan:
- The reader thread runs `source.run(protocol)`; for each chunk the protocol decodes it, stamps
  each frame with its own time (see `ArrivalClock`), runs the plausibility guard and hands what
  the guard releases to every sink's `submit`, in order. That is the whole path of a frame
  through the pipeline, on one thread: no queue and no second thread between the read and the
  sinks, so a frame costs one wake-up of the reader, not a hop more (on a Pi Zero's single core
  the hops, not the decoding, were most of the cost of a frame).
- `submit` never blocks: each sink that needs a thread has its own, and its own queue, so a slow
  database or a stalled client delays nothing else. A sink that breaks that promise stalls the
  reader: the bytes then wait in the kernel, and the watchdog stops pinging once one chunk has
  taken READER_STUCK, so systemd restarts a daemon stuck that way. A `submit` that raises kills
  the reader thread, and with it the daemon (exit 1).
- The main thread supervises: it sleeps on a wake channel (woken by a signal, a thread ending,
  or the next thing due), reports READY/STATUS/WATCHDOG/STOPPING to systemd and logs a summary line.
  READY=1 goes out as soon as the sinks and threads run, whether the source is open or not: a
  daemon waiting for its device (unplugged, not there yet at boot, a bridge down) is healthy,
  its sinks and retries run, and STATUS= says what it waits for. A thread that dies makes the
  daemon exit 1 (after flushing what it can), so that the service manager restarts it instead
  of leaving it half alive; a source that needs a new process (`RestartRequiredError`) makes it
  exit 75 the same clean way. At shutdown it stops the reader, then publishes what the guard
  still holds, from its own thread (the reader has ended by then: `submit` is never called
  from two threads at once).
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Callable

from teleinforeader.guard import PlausibilityGuard
from teleinforeader.notify import Notifier
from teleinforeader.sinks.base import Sink, Worker, watch_workers
from teleinforeader.sinks.wakeup import WakeChannel
from teleinforeader.sources.base import RestartRequiredError, Source
from teleinforeader.tic import AUTO, Decoder, Frame

log = logging.getLogger(__name__)

READER_STUCK = 60.0  # seconds in one chunk (a few frames at most) that can only be a hang
COUNTERS_WAIT = 0.1  # seconds the supervisor waits for the reader's lock to copy counters
ROOM_WAIT = 0.5  # seconds a replay waits at most for a sink, before it looks again
SHUTDOWN_BUDGET = 8.0  # seconds to stop reading, drain and close the sinks (systemd waits 90)
# Seconds between STATUS= updates to systemd (the unit's watchdog pings carry one too, every 30 s,
# and the source's opening and the first frame are told at once). The supervisor wakes for
# nothing else: a thread that ends wakes it (see `watch_workers`). On a Pi Zero a wake-up costs
# more than a frame.
STATUS_REFRESH = 30.0
OPEN_POLL_FIRST = 0.01  # seconds between checks that the source has opened, doubling...
OPEN_POLL_MAX = 0.5  # ... up to this (an unplugged adapter may take minutes to appear)
TICK = timedelta(microseconds=1)  # the finest step a database timestamp keeps
CLOCK_STEP_WARNING = timedelta(seconds=1)  # a wall clock this far back is logged

# The signals the command handles (stop, reload): only the main thread takes them.
HANDLED_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_RESTART = 75  # EX_TEMPFAIL: the source asked for a new process (systemd restarts on it)


class ArrivalClock:
    """Gives every frame its own, strictly increasing UTC time.

    The time is part of the database key (timestamp, reader, meter): frames sharing one would
    all but one be ignored as duplicates. A chunk holds several frames whenever the reader
    falls a frame behind (a busy SD card), and always in a replay at full speed. The chunk's
    last frame gets the time the chunk was read; the earlier ones, which arrived before it, a
    microsecond apart before it, so that they keep their order.

    The wall clock may step back (NTP at boot on a Pi without a clock of its own). The stamps
    do not follow it: they go on a microsecond after the last one until the clock passes it
    again. Order within the process is what the key needs; times squeezed together for as long
    as the step lasts are the lesser harm, and the step is logged.
    """

    def __init__(self) -> None:
        self._last: datetime | None = None
        self._held_back = False  # the clock stepped back and has not caught up yet

    def stamp(self, frames: Sequence[Frame], now: datetime) -> None:
        """Set each frame's `received_at`: the last one `now`, or just after the previous."""
        if not frames:
            return
        latest = now
        last = self._last
        if last is not None:
            if last - now >= CLOCK_STEP_WARNING and not self._held_back:
                log.warning(
                    "the wall clock went back %.1f s: frames are stamped just after %s until "
                    "it catches up",
                    (last - now).total_seconds(),
                    last.isoformat(),
                )
                self._held_back = True
            elif now > last:
                self._held_back = False
            latest = max(now, last + len(frames) * TICK)
        for before_last, frame in enumerate(reversed(frames)):
            frame.received_at = latest - before_last * TICK
        self._last = latest


class ReaderPipeline:
    """The reader thread's protocol: bytes -> decoder -> stamped frames -> `publish`.

    Its `patience` is the sinks': the shortest time any of them may wait for a frame."""

    def __init__(
        self,
        decoder: Decoder,
        publish: Callable[[list[Frame]], None],
        sinks: Sequence[Sink] = (),
    ) -> None:
        self.decoder = decoder
        self._publish = publish
        self._sinks = tuple(sinks)
        self._lock = threading.Lock()  # the decoder's counters are read by the main thread
        self.connections = 0
        self.busy_since: float | None = None  # monotonic time data_received was entered
        self._decoder_counters = decoder.stats.as_dict()
        self._clock = ArrivalClock()  # the reader thread's alone

    def connection_made(self, description: str) -> None:
        with self._lock:
            self.decoder.reset()
            self.connections += 1
        log.info("reading %s", description)

    def patience(self) -> float:
        return min((sink.patience() for sink in self._sinks), default=math.inf)

    def data_received(self, data: bytes, age: float = 0.0) -> int:
        self.busy_since = time.monotonic()
        received_at = datetime.now(timezone.utc)
        if age:
            received_at -= timedelta(seconds=age)
        with self._lock:
            frames = self.decoder.feed(data)
        if frames:
            self._clock.stamp(frames, received_at)
            self._publish(frames)
        self.busy_since = None
        return len(frames)

    def connection_lost(self, error: Exception | None) -> None:
        if error is not None:
            log.warning("source lost: %s", error)

    def counters(self) -> dict[str, int]:
        """The decoder's counters and the protocol's own. The decoder's are copied under the
        reader's lock; if the reader holds it too long (a hang the watchdog is about to
        report), the last copy is used, so that the supervisor itself never hangs."""
        if self._lock.acquire(timeout=COUNTERS_WAIT):
            try:
                self._decoder_counters = self.decoder.stats.as_dict()
            finally:
                self._lock.release()
        counters = dict(self._decoder_counters)
        counters.update(connections=self.connections)
        return counters


class Daemon:
    """Runs one source into its sinks until stopped; `run()` returns the exit status."""

    def __init__(
        self,
        source: Source,
        sinks: Sequence[Sink],
        *,
        mode: str = AUTO,
        guard: PlausibilityGuard | None = None,
        notifier: Notifier | None = None,
        status_interval: float = 300.0,
        accept_reload: Callable[[], bool] = lambda: True,
    ) -> None:
        self.source = source
        self.sinks = list(sinks)
        self.guard = guard
        self.notifier = notifier or Notifier({})
        self.status_interval = status_interval
        self.protocol = ReaderPipeline(Decoder(mode), self._guard_and_publish, self.sinks)
        for sink in self.sinks:  # a client that comes ends the reader's rest
            sink.on_hurry(source.hurry)
        self._guard_lock = threading.Lock()  # the guard's counters are read by the main thread
        self._wake = WakeChannel()  # what the supervisor sleeps on; signal handlers wake it
        self._stop_reason: str | None = None
        self.reloading = False  # stopping to start again with a new configuration
        self._accept_reload = accept_reload
        self._reload_reason: str | None = None  # asked for, not yet judged by accept_reload
        self._restart_reason: str | None = None  # the source's RestartRequiredError
        self._published = 0
        self._reader = Worker("reader", self._read)

    # -- control ---------------------------------------------------------------------------

    def request_reload(self, reason: str) -> None:
        """Ask `run` to stop as cleanly as for SIGTERM, everything drained, saying RELOADING=1
        instead of STOPPING=1, for the caller to start the new configuration (see
        `commands.run`). Safe in a signal handler: the supervisor, woken through the pipe,
        first asks `accept_reload` (which may read files, and refuses a broken
        configuration: then nothing changes)."""
        self._reload_reason = reason
        self._wake.wake()

    def request_stop(self, reason: str = "stop requested") -> None:
        """Ask `run` to stop and return, from another thread or a signal handler (it takes no
        lock: see `WakeChannel`). A stop asked during a reload cancels the reload: `reloading`
        turns False, and the caller ends instead of starting again."""
        self.reloading = False
        if self._stop_reason is None:
            self._stop_reason = reason
        self._wake.wake()

    def run(self) -> int:
        try:
            return self._run()
        finally:
            self._wake.close()  # a late wake (a signal) is then a no-op on a closed socket

    def _run(self) -> int:
        unwatch = watch_workers(self._wake.wake)  # a thread that ends: look at once
        # The threads started here, and those they start, block the handled signals, so that
        # the kernel gives each to the main thread: Python runs a handler in the main thread
        # only, when it next runs Python code, and a signal taken by another thread would
        # wait for the supervisor's next wake-up, up to STATUS_REFRESH away.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
        try:
            started = self._start_sinks()
            if started:
                self._reader.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        try:
            return self._shutdown(self._supervise()) if started else EXIT_FAILURE
        finally:
            unwatch()

    def _start_sinks(self) -> bool:
        """Start every sink; False (those started closed again) when one cannot start."""
        started: list[Sink] = []
        for sink in self.sinks:
            try:
                sink.start()
            except Exception as exc:
                log.error("cannot start the %s sink: %s", sink.name, exc)
                self._close_sinks(started, time.monotonic() + SHUTDOWN_BUDGET)
                return False
            started.append(sink)
        return True

    # -- the threads -----------------------------------------------------------------------

    def _read(self) -> None:
        try:
            self.source.run(self.protocol)
        except RestartRequiredError as request:
            self._restart_reason = str(request)

    def _guard_and_publish(self, frames: list[Frame]) -> None:
        """What the reader does with the frames of a chunk: guard them, hand them to the sinks."""
        if self.guard is None:
            self._publish(frames)
        else:
            with self._guard_lock:
                ready = []
                for frame in frames:
                    ready += self.guard.check(frame)
            self._publish(ready)
        if self.source.pausable:
            self._wait_for_the_sinks()

    def _publish(self, frames: Sequence[Frame]) -> None:
        if frames and not self._published:
            self._wake.wake()  # the first frame: STATUS= says so at once (an installer waits)
        for frame in frames:
            for sink in self.sinks:
                sink.submit(frame)
            self._published += 1

    def _wait_for_the_sinks(self) -> None:
        """A replay or the simulator at full speed would fill the database sink's memory
        faster than it can write or spool: pause between chunks until every sink has room
        (a real line is never paused; at its pace the sinks always have room)."""
        for sink in self.sinks:
            while not sink.wait_for_room(ROOM_WAIT):
                if self._stop_reason is not None or self._restart_reason is not None:
                    return

    # -- supervision -----------------------------------------------------------------------

    def _supervise(self) -> int:
        """Sleep until something is due; return the exit status when the daemon must stop."""
        # What the source waits for, read before READY's status so that a change in between
        # is told again rather than missed.
        told_waiting = self.source.waiting  # until the source opens, STATUS= says why it waits
        self.notifier.ready(self.status_line())
        log.info("ready: the sinks run, the %s source starts", self.source.name)
        opened = False  # the source has been open once: STATUS= says so at once
        told_first_frame = False  # ... and so the first frame
        open_poll = OPEN_POLL_FIRST
        ping_interval = self.notifier.watchdog_interval or math.inf
        now = time.monotonic()
        next_ping = now if ping_interval < math.inf else math.inf
        next_status = now + STATUS_REFRESH
        next_summary = now + self.status_interval if self.status_interval > 0 else math.inf
        while True:
            status = self._exit_status()
            if status is not None:
                return status
            now = time.monotonic()
            if not opened and self.source.ready:
                opened = True
                next_status = now
            elif not opened and self.source.waiting != told_waiting:
                told_waiting = self.source.waiting
                next_status = now
            if not told_first_frame and self._published:
                told_first_frame = True
                next_status = now
            if now >= next_ping:
                if self._making_progress():
                    self.notifier.watchdog(self.status_line())
                    next_status = now + STATUS_REFRESH
                next_ping = now + ping_interval
            if now >= next_status:
                if self.notifier.enabled:
                    self.notifier.status(self.status_line())
                next_status = now + STATUS_REFRESH
            if now >= next_summary:
                log.info("summary: %s", self.summary())
                next_summary = now + self.status_interval
            timeout = min(next_ping, next_status, next_summary) - now
            if not opened:
                timeout = min(timeout, open_poll)
                open_poll = min(open_poll * 2, OPEN_POLL_MAX)
            self._wake.wait(timeout)  # every condition is checked again at the top of the loop

    def _exit_status(self) -> int | None:
        """The exit status if the daemon must stop now (asked to, a thread died, the source
        ended), else None."""
        if self._stop_reason is not None:
            log.info("stopping: %s", self._stop_reason)
            return EXIT_OK
        if self._reload_reason is not None and self._reload_accepted():
            return EXIT_OK
        dead = self._dead()
        if dead:
            log.critical("%s died: exiting for a restart", ", ".join(dead))
            return EXIT_FAILURE
        if self._reader.finished:  # told by the thread itself, before is_alive() turns False
            if self._restart_reason is not None:
                log.warning("%s: exiting with status %d", self._restart_reason, EXIT_RESTART)
                return EXIT_RESTART
            log.info("the source ended: stopping")
            return EXIT_OK
        return None

    def _reload_accepted(self) -> bool:
        """Judge the reload asked for (a SIGHUP landing meanwhile asks again: judged next)."""
        reason, self._reload_reason = self._reload_reason, None
        if not self._accept_reload():
            return False
        self.reloading = True
        if self._stop_reason is not None:  # a SIGTERM came while the file was read: it wins
            self.reloading = False
        log.info("stopping: %s", self._stop_reason or reason)
        return True

    def _dead(self) -> list[str]:
        """The threads that died of an exception (each logged its traceback)."""
        dead = [] if self._reader.healthy else [self._reader.name]
        dead += [f"the {sink.name} sink" for sink in self.sinks if not sink.status().alive]
        return dead

    def _making_progress(self) -> bool:
        """Every thread alive and the reader not stuck in our code (or in a sink's `submit`).

        The reader is not judged by the bytes it gets: a silent line is the source's business
        (it reopens the port), not a stuck thread. Handling a chunk, though, is bounded work
        (decoding, the guard, a `submit` per sink that never blocks): longer than READER_STUCK
        means a hang."""
        if not self._reader.is_alive():
            return False
        if not all(sink.status().alive for sink in self.sinks):
            return False
        busy_since = self.protocol.busy_since
        if busy_since is not None and time.monotonic() - busy_since > READER_STUCK:
            log.error("the reader is stuck on one chunk: no watchdog ping")
            return False
        return True

    # -- shutdown --------------------------------------------------------------------------

    def _shutdown(self, status: int) -> int:
        """Stop reading, publish what the guard holds, close every sink, in the budget."""
        deadline = time.monotonic() + SHUTDOWN_BUDGET
        if self.reloading and status == EXIT_OK:
            self.notifier.reloading(self.status_line())
        else:
            self.notifier.stopping(self.status_line())
        self.source.stop()
        self._reader.join(_remaining(deadline))
        if self._reader.is_alive():
            log.error("the source did not stop in time: the frames the guard holds are lost")
        else:
            self._flush_guard()
        if not self._close_sinks(self.sinks, deadline):
            status = EXIT_FAILURE
        if self._dead():
            status = EXIT_FAILURE
        log.info("stopped: %s", self.summary())
        self.notifier.close()
        return status

    def _flush_guard(self) -> None:
        """Publish the frames the guard holds back (the reader has ended: nothing else feeds
        the sinks now)."""
        if self.guard is None:
            return
        with self._guard_lock:
            held = self.guard.flush()
        try:
            self._publish(held)
        except Exception:  # the sink that broke the reader may break here too
            log.exception("publishing the frames held by the guard failed")

    @staticmethod
    def _close_sinks(sinks: Sequence[Sink], deadline: float) -> bool:
        """Close each sink, sharing what is left of the budget; False if one failed."""
        clean = True
        for sink in sinks:
            try:
                sink.close(max(_remaining(deadline), 0.5))
            except Exception:
                log.exception("closing the %s sink failed", sink.name)
                clean = False
        return clean

    # -- reporting -------------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """Decoder, guard and pipeline counters, consistent enough for a status line."""
        counters = self.protocol.counters()
        if self.guard is not None:
            with self._guard_lock:
                counters.update(self.guard.stats.as_dict())
        counters["published"] = self._published
        return counters

    def status_line(self) -> str:
        """What `systemctl status` shows: the live figures, in a few words."""
        counters = self.counters()
        rejected = sum(n for name, n in counters.items() if name.startswith("rejected_"))
        backlog = sum(sink.status().backlog for sink in self.sinks)
        figures = (
            f"{counters['frames']} frames, {rejected} groups rejected, "
            f"{counters.get('held', 0)} values held back, backlog {backlog}"
        )
        waiting = self.source.waiting
        return f"{waiting}; {figures}" if waiting else figures

    def summary(self) -> str:
        """The periodic log line: every counter that is not zero, then each sink's figures."""
        counters = self.counters()
        parts = [f"frames={counters.pop('frames')} {_format_counters(counters)}"]
        source_counters = self.source.counters()
        if source_counters:
            parts.append(f"{self.source.name}: {_format_counters(source_counters)}")
        for sink in self.sinks:
            sink_status = sink.status()
            parts.append(
                f"{sink.name}: backlog={sink_status.backlog} "
                + _format_counters(sink_status.counters)
            )
        return "; ".join(part.rstrip() for part in parts)


def _format_counters(counters: Mapping[str, int]) -> str:
    return " ".join(f"{name}={value}" for name, value in counters.items() if value)


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.0)
