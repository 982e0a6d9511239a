"""TeleInfoMonitor's live feed through a link that batches what arrives within 100 ms, for a
whole run of the real daemon: its start (the guard holds the first frame and releases it with
the second), a noisy line (a swapped-digit spike held then refused, a group cut short, a bit
flip: three frames released at once), a confirmed index jump (two at once) and a reconnect.
With the default `[server] line_gap`, every read holds one line: TeleInfoMonitor never stops."""

from __future__ import annotations

from pathlib import Path

from tests.faults.fault_helpers import DaemonProcess, free_port, wait_for, write_config
from tests.support.batching_proxy import BatchingProxy
from tests.support.captures import FIRST_INDEX, historic_frame
from tests.support.teleinfomonitor import TeleInfoMonitorClient

FRAMES = 36
SPIKE, CUT, FLIPPED = 8, 9, 10  # the noisy frames (their guard burst: 3 lines)
JUMP = 16  # from this frame on the index is JUMP_WH higher: held, then confirmed (2 lines)
JUMP_WH = 5000
RECONNECT_AFTER = 24  # the monitor's Stop then Start once it has shown this frame
SPEED = 3.0  # a frame every 0.42 s: above the pace the gap allows, as on the real line


def value_span(frame: bytes, label: str) -> tuple[int, int]:
    """Where the value of group `label` lies in the frame's bytes."""
    start = frame.index(b"\n" + label.encode() + b" ") + len(label) + 2
    return start, frame.index(b" ", start)


def swap_digits(frame: bytes, label: str) -> bytes:
    """Two neighbouring digits swapped: the checksum (a sum) cannot see it."""
    start, _ = value_span(frame, label)
    data = bytearray(frame)
    data[start + 1], data[start + 2] = data[start + 2], data[start + 1]
    return bytes(data)


def drop_byte(frame: bytes, label: str) -> bytes:
    """A byte lost from the value: the group fails its checksum."""
    start, _ = value_span(frame, label)
    return frame[: start + 3] + frame[start + 4 :]


def flip_bit_6(frame: bytes, label: str) -> bytes:
    """Bit 6 of a digit flipped: same checksum, refused by the label's format."""
    start, _ = value_span(frame, label)
    data = bytearray(frame)
    data[start] ^= 0x40
    return bytes(data)


def capture() -> bytes:
    frames = []
    for n in range(FRAMES):
        frame = historic_frame(FIRST_INDEX + n + (JUMP_WH if n >= JUMP else 0))
        if n == SPIKE:
            frame = swap_digits(frame, "BASE")  # 001000008 -> 010000008: a 9 MWh spike
        elif n == CUT:
            frame = drop_byte(frame, "BASE")
        elif n == FLIPPED:
            frame = flip_bit_6(frame, "PAPP")
        frames.append(frame)
    # The port opened in the middle of a frame: its tail is skipped, as on a real start.
    return frames[0][len(frames[0]) // 3 :] + b"".join(frames)


def test_teleinfomonitor_reads_one_line_per_read_through_a_batching_link(tmp_path: Path) -> None:
    replay = tmp_path / "noisy.bin"
    replay.write_bytes(capture())
    port = free_port()
    config = write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {"type": "replay", "file": str(replay), "speed": SPEED},
            "database": {"backend": "none"},
            "server": {"host": "127.0.0.1", "port": port},  # line_gap: the default
            "daemon": {"state_directory": str(tmp_path / "state")},
        },
    )
    proxy = BatchingProxy(("127.0.0.1", port))
    try:
        first = TeleInfoMonitorClient(proxy.address)  # started before the daemon listens
        with DaemonProcess(config, print_frames=True) as daemon:
            mark = f"{FIRST_INDEX + RECONNECT_AFTER + JUMP_WH:09d}"
            wait_for(
                lambda: (
                    any(m["frame"].get("BASE") == mark for m in first.messages)
                    or first.ended.is_set()
                ),
                60,
                "the frame to reconnect after",
            )
            first.stop()
            second = TeleInfoMonitorClient(proxy.address)
            assert daemon.wait(60) == 0, daemon.log[-20:]
        assert second.ended.wait(10), "the daemon did not hang up at the end of the replay"
    finally:
        proxy.close()
    published = [(m["timestamp"], m["frame"]) for m in daemon.frames()]
    assert len(published) == FRAMES  # the guard never drops a frame whole
    monitors = (first, second)
    for monitor in monitors:
        assert monitor.failure is None, monitor.failure  # the reader thread never died
        assert len(monitor.reads) == len(monitor.messages)  # one line, whole, per read
    seen = [[(m["timestamp"], m["frame"]) for m in monitor.messages] for monitor in monitors]
    # Each connection: every frame of its lifetime once, in order; the second starts with the
    # latest frame (sent on connect), which the first may have shown already.
    assert seen[0] == published[: len(seen[0])]
    resumed = published.index(seen[1][0])
    assert resumed in (len(seen[0]) - 1, len(seen[0]))
    assert seen[1] == published[resumed:]
    assert proxy.joined == 0
    # The frames noise took a group from: TeleInfoMonitor logs a KeyError and shows the next.
    skipped = [failure.error for failure in first.invalid]
    assert skipped == ["KeyError: 'BASE'", "KeyError: 'BASE'", "KeyError: 'PAPP'"]
    counters = daemon.summary()
    assert counters["held"] >= 3 and counters["confirmed"] >= 2
    assert counters["rejected_unconfirmed"] == 1 and counters["rejected_checksum"] == 1
    reads = sum(len(monitor.reads) for monitor in monitors)
    print(
        f"TeleInfoMonitor-like client through a 100 ms batching proxy: {reads} reads, "
        f"{reads} lines, 0 failed to parse, {len(skipped)} frames without a label it needs"
    )
