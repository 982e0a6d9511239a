"""`[server] teleinfomonitor = true`: TeleInfoMonitor's reading code shows every meter, with the
values of the mapping table, each line alone in its 1024-byte read."""

from __future__ import annotations

from typing import Any, Callable

from teleinforeader.sinks.server import ServerSink
from teleinforeader.tic import Frame
from teleinforeader.tic.teleinfomonitor import MAPPINGS, SEED_LABELS, meter_kind, seed_values
from tests.server.server_helpers import LineClient, connected
from tests.support.every_meter import every_meter
from tests.support.teleinfomonitor import FIELDS, RECV_SIZE, TeleInfoMonitorClient, reads_reach
from tests.support.waiting import wait_for

Start = Callable[..., ServerSink]


def shown(frame: Frame) -> dict[str, Any] | None:
    """What TeleInfoMonitor shows of the frame by the mapping table (timestamp aside), or None
    when one of the ten is missing (it then skips the frame)."""
    values = seed_values(frame)[1]
    if len(values) < len(SEED_LABELS):
        return None
    return {field: values[label] for field, label in zip(FIELDS[1:], SEED_LABELS)}


def test_teleinfomonitor_shows_every_meter_with_the_mapped_values(start_server: Start) -> None:
    sink = start_server(teleinfomonitor=True)
    monitor = TeleInfoMonitorClient(sink.address)  # type: ignore[arg-type]
    wait_for(connected(sink, 1))
    shown_by_source: dict[str, int] = {}
    kinds_shown: set[str] = set()
    for source, frames in every_meter().items():
        expected, skipped = [], 0
        before = len(monitor.frames), len(monitor.invalid)
        for frame in frames:
            wanted = shown(frame)
            expected += [wanted] if wanted else []
            skipped += wanted is None
            if wanted:
                kinds_shown.add(meter_kind(frame) + (" producer" if "EAIT" in frame else ""))
            reads = len(monitor.reads) + 1
            sink.submit(frame)  # one at a time, as a meter sends them
            wait_for(reads_reach(monitor, reads))
            assert monitor.failure is None, (source, monitor.failure)
        got = [
            {k: v for k, v in f.items() if k != "timestamp"} for f in monitor.frames[before[0] :]
        ]
        assert got == expected, source
        assert len(monitor.invalid) - before[1] == skipped, source
        shown_by_source[source] = len(got)
    assert all(len(read) < RECV_SIZE for read in monitor.reads)
    assert len(monitor.reads) == len(monitor.messages)  # every read one whole line
    # Every simulator profile is shown whole, and every kind of meter; the captures whose serial
    # number was anonymised (its checksum then fails) lack ADCO and are skipped, as
    # TeleInfoMonitor skips them.
    assert all(shown_by_source[source] for source in shown_by_source if "simulator" in source)
    assert kinds_shown >= {*MAPPINGS, "standard single-phase producer"}
    print(f"frames shown per source: {shown_by_source}")


def test_the_default_listener_keeps_what_the_meter_sent(
    start_server: Start, connect: Callable[..., LineClient]
) -> None:
    sink = start_server()
    client = connect(sink.address)
    wait_for(connected(sink, 1))
    for frames in every_meter().values():
        sink.submit(frames[-1])
        message = client.read_message()
        assert message["frame"] == dict(frames[-1]) and "mapped_from" not in message
