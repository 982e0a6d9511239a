"""Connection churn does not flood the log: a few lines a minute, then one summary line."""

from __future__ import annotations

import logging
import socket
from typing import Callable

import pytest

from teleinforeader.settings import ServerSettings
from teleinforeader.sinks.server import ServerSink
from teleinforeader.sinks.server.connlog import ConnectionLog
from tests.server.server_helpers import WAIT
from tests.support.waiting import wait_for

CHURN = 300


def client_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("teleinforeader.sinks.server")
    ]


def churn(address: tuple[str, int], count: int) -> None:
    for _ in range(count):
        with socket.create_connection(address, timeout=WAIT):
            pass


def all_gone(sink: ServerSink) -> bool:
    counters = sink.status().counters
    return counters["disconnects"] + counters["refused"] == CHURN and not counters["clients"]


def test_a_client_connecting_in_a_loop_gives_a_few_lines_and_a_summary(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="teleinforeader")
    sink = ServerSink(ServerSettings(host="127.0.0.1", port=0))
    sink.start()
    assert sink.address is not None
    churn(sink.address, CHURN)
    # Some come before the server saw the previous one go: refused (max_clients), not served.
    wait_for(lambda: all_gone(sink))
    counters = sink.status().counters
    sink.close(1.0)
    lines = client_lines(caplog)
    assert len(lines) < 30, lines[:40]
    summaries = [line for line in lines if "not logged one by one" in line]
    assert len(summaries) == 1, lines
    served = counters["disconnects"]
    logged_one_by_one = sum(1 for line in lines if " connected (" in line)
    assert f"{served - logged_one_by_one} connected" in summaries[0]


def test_the_summary_comes_at_the_end_of_the_window_without_another_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="teleinforeader")
    sink = ServerSink(ServerSettings(host="127.0.0.1", port=0, allow=("10.0.0.0/8",)))
    sink.connection_log = ConnectionLog(interval=0.2, burst=2)
    sink.start()
    assert sink.address is not None
    try:
        churn(sink.address, 20)
        wait_for(lambda: any("not logged one by one" in line for line in client_lines(caplog)))
    finally:
        sink.close(1.0)
    (summary,) = [line for line in client_lines(caplog) if "not logged one by one" in line]
    assert "18 refused" in summary
    assert sum(1 for line in client_lines(caplog) if line.startswith("refused client")) == 2


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_connection_log_windows(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = FakeClock()
    log = ConnectionLog(interval=60.0, burst=3, clock=clock)
    emitted: Callable[[], list[str]] = lambda: [r.getMessage() for r in caplog.records]  # noqa: E731
    for number in range(10):
        log.event("connected", logging.INFO, "client %d connected", number)
    assert emitted() == ["client 0 connected", "client 1 connected", "client 2 connected"]
    assert log.due() == pytest.approx(1060.0)
    log.flush()
    assert len(emitted()) == 3  # not due yet
    clock.now += 60.0
    log.flush()
    assert emitted()[3] == "7 connected in the last 60 s, not logged one by one"
    assert log.due() is None
    log.event("closed", logging.INFO, "client x closed")
    assert emitted()[4] == "client x closed"
