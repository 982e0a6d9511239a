"""`teleinforeader tail` as a user runs it: a real subprocess against a real server."""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Callable

import pytest

from teleinforeader.cli import main
from teleinforeader.commands.tail import DEFAULT_PORT, EX_NOPERM, describe, parse_address
from teleinforeader.jsonline import frame_to_json_line, teleinfomonitor_json_line
from teleinforeader.sinks.server import ServerSink
from tests.server.server_helpers import capture_frames, connected, historic_frame
from tests.support.waiting import wait_for

Start = Callable[..., ServerSink]
PROCESS_WAIT = 30.0  # seconds: a Python start-up on a loaded CI machine can take several


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("localhost", DEFAULT_PORT)),
        ("pi.local", ("pi.local", DEFAULT_PORT)),
        ("pi.local:50008", ("pi.local", 50008)),
        (":50008", ("localhost", 50008)),
        ("[::1]:50008", ("::1", 50008)),
        ("[fe80::1%eth0]", ("fe80::1%eth0", DEFAULT_PORT)),
        ("::1", ("::1", DEFAULT_PORT)),
    ],
)
def test_parse_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["pi:http", "pi:0", "pi:65536", "[::1", "[::1]50007"])
def test_parse_address_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_address(text)


@pytest.mark.parametrize("count", ["-1", "two"])
def test_count_must_be_a_number_of_frames(count: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["tail", "--count", count])
    assert exit_info.value.code == 2
    assert "expected a number of frames" in capsys.readouterr().err


def test_describe_historic_frame() -> None:
    message = json.loads(frame_to_json_line(historic_frame(8735124)))
    line = describe(message)
    assert line.startswith(message["timestamp"][:19])
    assert line.split() == [*message["timestamp"][:19].split(), "021861348497", "TH..", "2380",
                            "VA", "10", "A", "8735.124", "kWh"]  # fmt: skip


def test_describe_tempo_sums_every_index() -> None:
    frame = capture_frames("historic-tempo-pyteleinfo-captured_frames.bin")[0]
    total = sum(int(frame[label]) for label in frame if label.startswith("BBRH"))
    line = describe(json.loads(frame_to_json_line(frame)))
    assert f"{total / 1000:.3f} kWh" in line and " HCJB " in line


def test_describe_standard_three_phase_frame() -> None:
    frame = capture_frames("standard-tri-tempo-teleinfo-nom-stream_standard_complete.bin")[0]
    line = describe(json.loads(frame_to_json_line(frame)))
    currents = "/".join(str(int(frame[f"IRMS{phase}"])) for phase in (1, 2, 3))
    assert frame["ADSC"] in line and frame["LTARF"].strip() in line
    assert f"{int(frame['SINSTS'])} VA" in line and f"{currents} A" in line
    assert f"{int(frame['EAST']) / 1000:.3f} kWh" in line


def test_describe_teleinfomonitor_line_of_a_standard_meter() -> None:
    frame = capture_frames("standard-tri-tempo-teleinfo-nom-stream_standard_complete.bin")[0]
    line = describe(json.loads(teleinfomonitor_json_line(frame)))
    largest = max(int(frame[f"IRMS{phase}"]) for phase in (1, 2, 3))
    assert frame["ADSC"] in line and " HCJW " in line
    assert f"{int(frame['SINSTS'])} VA" in line and f" {largest} A" in line
    assert f"{int(frame['EAST']) / 1000:.3f} kWh" in line


def test_describe_tolerates_missing_values() -> None:
    assert describe({"frame": {}}).split() == ["-"] * 6


@pytest.fixture
def tail() -> Iterator[Callable[..., subprocess.Popen]]:
    processes: list[subprocess.Popen] = []

    def start(*arguments: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "teleinforeader", "tail", *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]


def expect_frame(process: subprocess.Popen, sink: ServerSink, index: int) -> None:
    """Submit frame `index`: the tail process prints it as its last line, then exits 0."""
    sink.submit(historic_frame(index))
    out, err = process.communicate(timeout=PROCESS_WAIT)
    assert process.returncode == 0, err
    assert out.split()[-2] == f"{index / 1000:.3f}"


def address_of(sink: ServerSink) -> str:
    host, port = sink.address  # type: ignore[misc]
    return f"{host}:{port}"


def test_tail_prints_readable_lines_then_json(start_server: Start, tail: Callable) -> None:
    sink = start_server()
    sink.submit(historic_frame(1000))
    readable = tail(address_of(sink), "--count", "2")
    wait_for(connected(sink, 1))
    sink.submit(historic_frame(2000))
    out, err = readable.communicate(timeout=PROCESS_WAIT)
    assert readable.returncode == 0, err
    assert [line.split()[-2] for line in out.splitlines()] == ["1.000", "2.000"]
    assert f"connected to {address_of(sink)}" in err
    raw = tail(address_of(sink), "--json", "--count", "1")
    out, _ = raw.communicate(timeout=PROCESS_WAIT)
    assert json.loads(out)["frame"]["BASE"] == "000002000"


def test_tail_reconnects_when_the_daemon_restarts(start_server: Start, tail: Callable) -> None:
    first = start_server()
    first.submit(historic_frame(1))
    process = tail(address_of(first), "--count", "2")
    assert process.stdout.readline().split()[-2] == "0.001"
    first.close(1.0)
    assert "closed the connection; retrying" in process.stderr.readline() + (
        process.stderr.readline()
    )
    second = start_server(port=first.address[1])  # type: ignore[index]
    wait_for(connected(second, 1))
    expect_frame(process, second, 2)


def test_tail_waits_for_a_daemon_not_started_yet(start_server: Start, tail: Callable) -> None:
    probe = start_server()
    port = probe.address[1]  # type: ignore[index]
    probe.close(1.0)
    process = tail(f"127.0.0.1:{port}", "--count", "1")
    assert "Connection refused; retrying" in process.stderr.readline()
    expect_frame(process, start_server(port=port), 3)


def test_tail_stops_quietly_on_ctrl_c(start_server: Start, tail: Callable) -> None:
    sink = start_server()
    sink.submit(historic_frame(4))
    process = tail(address_of(sink))
    assert process.stdout.readline()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=PROCESS_WAIT)
    assert process.returncode == 0
    assert "Traceback" not in err


def test_tail_gives_up_when_the_allow_list_refuses_it(start_server: Start, tail: Callable) -> None:
    sink = start_server(allow=("192.0.2.0/24",))
    process = tail(address_of(sink))
    _, err = process.communicate(timeout=PROCESS_WAIT)
    assert process.returncode == EX_NOPERM
    assert "refuses this machine (server.allow)" in err


def test_tail_retries_when_the_daemon_is_full(start_server: Start, tail: Callable) -> None:
    sink = start_server(max_clients=1)
    occupant = tail(address_of(sink))
    wait_for(connected(sink, 1))
    process = tail(address_of(sink), "--count", "1")
    assert "refused: too many clients; retrying" in process.stderr.readline() + (
        process.stderr.readline()
    )
    occupant.kill()
    occupant.wait()
    expect_frame(process, sink, 5)  # received live, or on connecting as the latest frame


def test_tail_imports_neither_the_decoder_nor_the_server(start_server: Start) -> None:
    sink = start_server()
    sink.submit(historic_frame(6))
    code = (
        "import sys\n"
        "from teleinforeader.cli import main\n"
        f"assert main(['tail', {address_of(sink)!r}, '--count', '1']) == 0\n"
        "heavy = [m for m in sys.modules if m.startswith(('teleinforeader.tic', "
        "'teleinforeader.sinks', 'teleinforeader.jsonline'))]\n"
        "print('heavy:', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=PROCESS_WAIT,
        check=True,
    )
    assert "heavy: []" in result.stderr


def test_tail_reports_a_peer_that_is_not_a_teleinforeader(tail: Callable) -> None:
    with socket.create_server(("127.0.0.1", 0)) as impostor:
        impostor.settimeout(PROCESS_WAIT)
        host, port = impostor.getsockname()
        process = tail(f"{host}:{port}")
        peer, _ = impostor.accept()
        with peer:
            peer.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        assert "connected to" in process.stderr.readline()
        assert "not a JSON line" in process.stderr.readline()
        process.kill()
        assert process.wait(PROCESS_WAIT) != 0
        assert process.stdout.read() == ""
