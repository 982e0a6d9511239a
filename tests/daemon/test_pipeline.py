"""The daemon's threads with small real sources and sinks: order, isolation, crashes, shutdown."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from teleinforeader import daemon as daemon_module
from teleinforeader.daemon import EXIT_RESTART, Daemon
from teleinforeader.guard import PlausibilityGuard
from teleinforeader.notify import Notifier
from teleinforeader.sources.base import ReaderProtocol, RestartRequiredError
from teleinforeader.statedir import resolve_state_directory
from tests.daemon.daemon_helpers import (
    BlockingSubmitSink,
    CollectingSink,
    MemorySource,
    NotifySocket,
    historic_frame,
    steady_line,
)
from tests.support.waiting import wait_for


class Running:
    """A daemon running in a thread, as the main thread of the process would run it."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.status: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.status = self.daemon.run()

    def stop(self) -> int | None:
        self.daemon.request_stop("test")
        return self.wait()

    def wait(self) -> int | None:
        self.thread.join(15)
        assert not self.thread.is_alive(), "the daemon did not stop"
        return self.status


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    manager = NotifySocket(tmp_path / "notify")
    yield manager
    manager.close()


def test_every_frame_reaches_every_sink_in_order() -> None:
    source = MemorySource(steady_line(30))
    sinks = [CollectingSink("a"), CollectingSink("b")]
    running = Running(Daemon(source, sinks, guard=PlausibilityGuard()))
    wait_for(lambda: all(len(sink.frames) == 30 for sink in sinks))
    assert running.stop() == 0
    for sink in sinks:
        assert [f.int("BASE") for f in sink.frames] == [1_000_000 + n for n in range(30)]
        assert all(f.received_at is not None for f in sink.frames)
        assert sink.closed


def test_a_spike_never_reaches_the_sinks_and_the_rest_of_its_frame_does() -> None:
    spike = historic_frame(1_009_005, papp=2500)
    chunks = [*steady_line(5), spike, *steady_line(3, 1_000_005)]
    sink = CollectingSink()
    running = Running(Daemon(MemorySource(chunks), [sink], guard=PlausibilityGuard()))
    wait_for(lambda: len(sink.frames) == 9)
    assert running.stop() == 0
    indexes = [f.int("BASE") for f in sink.frames]
    assert indexes == [*range(1_000_000, 1_000_005), None, *range(1_000_005, 1_000_008)]
    assert sink.frames[5]["PAPP"] == "02500"
    assert running.daemon.counters()["rejected_unconfirmed"] == 1


def test_without_the_guard_frames_pass_untouched() -> None:
    chunks = [*steady_line(2), historic_frame(1_009_005)]
    sink = CollectingSink()
    running = Running(Daemon(MemorySource(chunks), [sink]))
    wait_for(lambda: len(sink.frames) == 3)
    assert running.stop() == 0
    assert sink.frames[2].int("BASE") == 1_009_005


def test_the_frame_held_at_shutdown_is_published_without_its_unconfirmed_value() -> None:
    sink = CollectingSink()
    running = Running(Daemon(MemorySource(steady_line(1)), [sink], guard=PlausibilityGuard()))
    wait_for(lambda: running.daemon.counters()["frames"] == 1)
    assert sink.frames == []
    assert running.stop() == 0
    [frame] = sink.frames
    assert "BASE" not in frame
    assert frame["PAPP"] == "01800"


def test_a_stalled_sink_does_not_hold_back_another_and_gets_everything_in_the_end() -> None:
    slow, fast = CollectingSink("slow"), CollectingSink("fast")
    slow.gate.clear()
    running = Running(Daemon(MemorySource(steady_line(50)), [slow, fast]))
    wait_for(lambda: len(fast.frames) == 50)
    assert slow.frames == []
    assert "backlog 49" in running.daemon.status_line()  # one frame sits in the stalled thread
    slow.gate.set()
    assert running.stop() == 0
    assert len(slow.frames) == 50


def test_a_crashing_sink_makes_the_daemon_exit_non_zero_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    crashing, healthy = CollectingSink("crashing", crash_after=3), CollectingSink("healthy")
    running = Running(Daemon(MemorySource(steady_line(10)), [crashing, healthy]))
    assert running.wait() == 1
    assert len(healthy.frames) == 10  # the healthy sink was still drained and closed
    assert healthy.closed
    died = [r for r in caplog.records if r.getMessage() == "thread crashing died"]
    assert died and died[0].exc_info is not None
    assert "crashing sink bug" in caplog.text
    assert any("the crashing sink died" in r.getMessage() for r in caplog.records)


def test_a_crashing_reader_makes_the_daemon_exit_non_zero(caplog: pytest.LogCaptureFixture) -> None:
    sink = CollectingSink()
    running = Running(Daemon(MemorySource(steady_line(3), fail=True), [sink]))
    assert running.wait() == 1
    assert "the adapter caught fire" in caplog.text
    assert len(sink.frames) == 3  # what was read before the crash is still delivered


def test_a_source_that_ends_stops_the_daemon_cleanly() -> None:
    sink = CollectingSink()
    running = Running(Daemon(MemorySource(steady_line(4), ends=True), [sink]))
    assert running.wait() == 0
    assert len(sink.frames) == 4
    assert sink.closed


class AsksForRestart(MemorySource):
    """Plays its frames, then finds something only a new process gets past (a device policy
    resolved when the service started, teleinforeader.sources.devicepolicy)."""

    def run(self, protocol: ReaderProtocol) -> None:
        super().run(protocol)
        raise RestartRequiredError("the device needs a new process")


def test_a_source_asking_for_a_restart_exits_75_after_delivering_everything(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = CollectingSink()
    running = Running(Daemon(AsksForRestart(steady_line(4), ends=True), [sink]))
    assert running.wait() == EXIT_RESTART == 75
    assert len(sink.frames) == 4
    assert sink.closed
    assert "the device needs a new process: exiting with status 75" in caplog.text
    assert "died" not in caplog.text


def test_a_sink_that_cannot_start_stops_the_daemon_and_closes_the_started_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Unstartable(CollectingSink):
        def start(self) -> None:
            raise OSError("[Errno 98] Address already in use")

    started = CollectingSink("started")
    status = Daemon(MemorySource([]), [started, Unstartable("server")]).run()
    assert status == 1
    assert started.closed
    assert "cannot start the server sink: [Errno 98] Address already in use" in caplog.text


class NeverOpens(MemorySource):
    """A serial port that does not open: why, it says after its first attempt."""

    def __init__(self) -> None:
        super().__init__([])
        self.reason = ""

    def run(self, protocol: ReaderProtocol) -> None:
        self.reason = " (No such file or directory)"
        self._stop.wait()

    @property
    def waiting(self) -> str | None:
        return f"waiting for /dev/serial0{self.reason}"

    @property
    def ready(self) -> bool:
        return False


def test_ready_without_the_source_and_why_it_waits_is_told_at_once(
    notify_socket: NotifySocket,
) -> None:
    """No watchdog: the 30 s STATUS refresh is not what brings the reason."""
    running = Running(
        Daemon(NeverOpens(), [CollectingSink()], notifier=Notifier(notify_socket.environ()))
    )
    ready = notify_socket.receive_until("READY")
    assert ready["STATUS"].startswith("waiting for /dev/serial0")
    status = ready
    while "(No such file or directory)" not in status["STATUS"]:
        status = notify_socket.receive_until("STATUS", timeout=5)
    assert running.stop() == 0


def test_systemd_hears_ready_status_watchdog_and_stopping(notify_socket: NotifySocket) -> None:
    notifier = Notifier(notify_socket.environ(watchdog_usec=200_000))
    running = Running(Daemon(MemorySource(steady_line(3)), [CollectingSink()], notifier=notifier))
    ready = notify_socket.receive_until("READY")
    assert ready["READY"] == "1"
    assert "frames" in ready["STATUS"]
    wait_for(lambda: running.daemon.counters()["frames"] == 3)
    ping = notify_socket.receive_until("WATCHDOG")
    while "3 frames" not in ping["STATUS"]:
        ping = notify_socket.receive_until("WATCHDOG")
    running.daemon.request_stop("test")
    stopping = notify_socket.receive_until("STOPPING")
    assert stopping["STOPPING"] == "1"
    assert running.wait() == 0


def test_no_watchdog_ping_while_a_sink_blocks_the_reader_in_submit(
    monkeypatch: pytest.MonkeyPatch, notify_socket: NotifySocket, caplog: pytest.LogCaptureFixture
) -> None:
    """A sink that breaks its promise and blocks in `submit` stalls the reader: no more pings,
    so systemd restarts the daemon; once it lets go, every frame is there, in order."""
    monkeypatch.setattr(daemon_module, "READER_STUCK", 0.2)
    notifier = Notifier(notify_socket.environ(watchdog_usec=100_000))
    stuck = BlockingSubmitSink("stuck")
    stuck.gate.clear()
    running = Running(Daemon(MemorySource(steady_line(5)), [stuck], notifier=notifier))
    notify_socket.receive_until("READY")
    wait_for(lambda: "the reader is stuck on one chunk" in caplog.text)
    notify_socket.drain()  # the pings sent before
    with pytest.raises(AssertionError, match="no WATCHDOG"):
        notify_socket.receive_until("WATCHDOG", timeout=0.5)
    stuck.gate.set()
    notify_socket.receive_until("WATCHDOG")  # progress again: pings again
    assert running.stop() == 0
    assert [frame["BASE"] for frame in stuck.frames] == [f"{1_000_000 + n:09d}" for n in range(5)]


def test_the_summary_line_names_the_figures(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sink = CollectingSink()
    daemon = Daemon(MemorySource(steady_line(3)), [sink], guard=PlausibilityGuard())
    daemon.status_interval = 0.05
    running = Running(daemon)
    wait_for(lambda: "frames=3" in caplog.text and "memory: chunks=3" in caplog.text)
    assert running.stop() == 0
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("summary")]
    assert "collect: backlog=0" in summary[-1]
    assert "held=1" in summary[-1]


def test_the_state_directory_from_systemd_wins_and_is_created(tmp_path: Path) -> None:
    first, second = tmp_path / "state" / "a", tmp_path / "b"
    environ = {"STATE_DIRECTORY": f"{first}:{second}"}
    assert resolve_state_directory(str(tmp_path / "configured"), environ) == str(first)
    assert first.is_dir()
    assert not (tmp_path / "configured").exists()
    configured = tmp_path / "configured" / "deep"
    assert resolve_state_directory(str(configured), {}) == str(configured)
    assert configured.is_dir()


def test_a_submit_that_raises_stops_the_daemon_with_status_1(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class RaisingSubmit(CollectingSink):
        def submit(self, frame: object) -> None:
            raise RuntimeError("submit broke its promise")

    one_chunk = b"".join(steady_line(40))  # a fast replay: many frames in one read
    running = Running(Daemon(MemorySource([one_chunk]), [RaisingSubmit()]))
    assert running.wait() == 1
    assert "reader died" in caplog.text
    assert "submit broke its promise" in caplog.text


def test_no_watchdog_ping_while_the_reader_is_stuck_on_a_chunk(
    monkeypatch: pytest.MonkeyPatch, notify_socket: NotifySocket, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(daemon_module, "READER_STUCK", 0.2)
    stuck = threading.Event()

    class HangingSource(MemorySource):
        def run(self, protocol: ReaderProtocol) -> None:
            protocol.connection_made("hanging")
            self._open.set()
            real_feed = self.decoder.feed

            def hang(data: bytes, received_at: object = None) -> list:
                stuck.wait()  # a decoder bug that never returns
                return real_feed(data, received_at)

            self.decoder.feed = hang  # type: ignore[method-assign]
            protocol.data_received(b"\x02")
            self._stop.wait()

    source = HangingSource([])
    notifier = Notifier(notify_socket.environ(watchdog_usec=100_000))
    daemon = Daemon(source, [CollectingSink()], notifier=notifier)
    source.decoder = daemon.protocol.decoder
    running = Running(daemon)
    notify_socket.receive_until("READY")
    wait_for(lambda: "the reader is stuck on one chunk" in caplog.text)
    notify_socket.drain()  # the pings sent before
    with pytest.raises(AssertionError, match="no WATCHDOG"):
        notify_socket.receive_until("WATCHDOG", timeout=0.5)
    stuck.set()
    notify_socket.receive_until("WATCHDOG")  # unstuck: pings again
    assert running.stop() == 0
