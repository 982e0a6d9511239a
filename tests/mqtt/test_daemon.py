"""The whole daemon with MQTT on: while the broker is killed, the socket server and the
database keep getting every frame; states resume when it is back; a reader that dies is shown
offline by its last will."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.faults.fault_helpers import (
    DaemonProcess,
    LineClient,
    free_port,
    wait_for,
    write_capture,
    write_config,
)
from tests.mqtt.mqtt_helpers import mqtt_section, states
from tests.support.captures import FIRST_INDEX
from tests.support.mosquitto import MosquittoBroker, Recorder

SERIAL = "021728123456"  # the meter of tests.support.captures
AVAILABILITY = f"teleinforeader/{SERIAL}/availability"


def test_the_broker_away_stalls_nothing_and_a_dead_reader_goes_offline(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "broker")
    broker.start()
    recorder = Recorder(broker)
    port = free_port()
    capture = tmp_path / "capture.bin"
    write_capture(capture, 20_000)  # more than the test plays
    config = write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {"type": "replay", "file": str(capture), "speed": 20},
            "database": {"backend": "sqlite", "store_interval": 0, "flush_interval": 0.2},
            "server": {"host": "127.0.0.1", "port": port},
            "mqtt": mqtt_section(broker),
            "daemon": {"state_directory": str(tmp_path / "state"), "status_interval": 0.5},
        },
    )
    try:
        with DaemonProcess(config) as daemon:
            daemon.wait_log("serving JSON lines")
            client = LineClient(port)
            wait_for(lambda: states(recorder, SERIAL), 20, "a first state")
            assert recorder.last(AVAILABILITY).payload == b"online"
            broker.kill()
            daemon.wait_log("lost the MQTT broker")
            seen = len(client.indexes())
            stored = daemon.wait_counters(lambda c: c.get("rows_written", 0) > 0)["rows_written"]
            # While the broker is away: the TCP client and the database keep getting frames.
            wait_for(lambda: len(client.indexes()) > seen + 40, 20, "frames to the client")
            daemon.wait_counters(lambda c: c.get("rows_written", 0) > stored + 40, timeout=20)
            recorder.close()
            broker.start()
            recorder = Recorder(broker)
            wait_for(lambda: states(recorder, SERIAL), 20, "states after the restart")
            wait_for(lambda: recorder.last(AVAILABILITY), 20, "availability again")
            assert recorder.last(AVAILABILITY).payload == b"online"
            latest = states(recorder, SERIAL)[-1]["BASE"]
            assert latest > FIRST_INDEX + seen  # the current frame, not an old queued one
            indexes = client.indexes()
            assert indexes == list(range(indexes[0], indexes[0] + len(indexes)))  # none lost
            client.close()
            daemon.process.send_signal(signal.SIGKILL)
            daemon.wait()
            wait_for(lambda: recorder.last(AVAILABILITY).payload == b"offline", 20, "the will")
    finally:
        recorder.close()
        broker.stop()
