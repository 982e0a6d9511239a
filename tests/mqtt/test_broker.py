"""The sink against a real broker that misbehaves: a spike frame, a broker killed and
restarted, wrong credentials, TLS, Home Assistant restarting, two meters on one broker."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from teleinforeader.guard import PlausibilityGuard
from teleinforeader.settings import MqttSettings
from teleinforeader.sinks.mqtt.sink import MqttSink
from teleinforeader.tic import Frame, decode, encode_frame
from tests.mqtt.conftest import StartSink
from tests.mqtt.mqtt_helpers import START, checked_configs, configs, simulated, states
from tests.support.certificates import make_certificates
from tests.support.homeassistant import entity_value
from tests.support.mosquitto import MosquittoBroker, Recorder
from tests.support.waiting import wait_for

SERIAL = "021861348497"
GROUPS = {"ADCO": SERIAL, "OPTARIF": "BASE", "ISOUSC": "30", "BASE": "001000000",
          "PTEC": "TH..", "IINST": "008", "IMAX": "090", "PAPP": "01800", "HHPHC": "A",
          "MOTDETAT": "000000"}  # fmt: skip
AVAILABILITY = f"teleinforeader/{SERIAL}/availability"


def base_frame(index: int, second: float) -> Frame:
    (frame,) = decode(encode_frame(dict(GROUPS, BASE=f"{index:09d}"), "historic"))
    frame.received_at = START + timedelta(seconds=second)
    return frame


def test_a_spike_is_never_published_and_the_energy_never_goes_down(
    start_sink: StartSink, recorder: Recorder
) -> None:
    """Through the plausibility guard, as in the pipeline: a value with swapped digits (a huge
    jump) and a lower one pass the 6-bit checksum; neither reaches Home Assistant."""
    indexes = [1_000_000 + n for n in range(12)]
    indexes[5] = 1_000_500  # 500 Wh in 2 s: 900 kW, a swapped-digit spike
    indexes[8] = 999_000  # lower: a decrease Home Assistant would take for a meter reset
    guard = PlausibilityGuard()
    sink = start_sink()
    for n, index in enumerate(indexes):
        for frame in guard.check(base_frame(index, 2.0 * n)):
            sink.submit(frame)
    for frame in guard.flush():
        sink.submit(frame)
    wait_for(lambda: any(s.get("BASE") == indexes[-1] for s in states(recorder, SERIAL)))
    published = [state["BASE"] for state in states(recorder, SERIAL)]
    assert 1_000_500 not in published and 999_000 not in published
    assert published == sorted(published)
    (component, config) = checked_configs(recorder)[f"{SERIAL}_BASE"]
    shown = [
        entity_value(component, config, m.payload)
        for m in recorder.on(f"teleinforeader/{SERIAL}/state")
    ]
    assert shown == sorted(shown) and max(shown) == indexes[-1]


class Feeder:
    """The pipeline's side: submits a frame every few milliseconds from its own thread, as
    the dispatcher would, whatever the broker does."""

    def __init__(self, sink: MqttSink) -> None:
        self.sink = sink
        self.submitted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.sink.submit(base_frame(1_000_000 + self.submitted, 2.0 * self.submitted))
            self.submitted += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def test_a_broker_killed_and_restarted_gets_availability_discovery_and_states_again(
    broker: MosquittoBroker, start_sink: StartSink, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "teleinforeader")
    sink = start_sink(publish="interval", interval=0.05)
    feeder = Feeder(sink)
    recorder = Recorder(broker)
    try:
        wait_for(lambda: states(recorder, SERIAL), what="a first state")
        broker.kill()
        wait_for(lambda: "lost the MQTT broker" in caplog.text, what="the outage logged")
        during = feeder.submitted
        wait_for(lambda: feeder.submitted > during + 50, what="frames submitted while it is away")
        assert sink.status().backlog <= 1  # nothing piles up: only the latest state is kept
        broker.start()
        after = Recorder(broker)  # a fresh broker: nothing retained from before
        wait_for(lambda: after.on(AVAILABILITY) and configs(after), what="online and discovery")
        assert after.last(AVAILABILITY).payload == b"online"
        wait_for(lambda: states(after, SERIAL), what="states again")
        first_after = states(after, SERIAL)[0]["BASE"]
        wait_for(lambda: states(after, SERIAL)[-1]["BASE"] > first_after, what="states go on")
        after.close()
    finally:
        feeder.stop()
        recorder.close()
    counters = sink.status().counters
    assert counters["broker_lost"] == 1 and counters["broker_connections"] == 2
    outage_lines = [
        r
        for r in caplog.records
        if "MQTT broker" in r.getMessage() and r.levelno >= logging.WARNING
    ]
    assert len(outage_lines) == 1, [r.getMessage() for r in outage_lines]  # one line per outage
    assert any(
        "connected to the MQTT broker" in r.getMessage() and "failed attempts" in r.getMessage()
        for r in caplog.records
    )


def test_wrong_credentials_give_one_clear_line_and_retries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = MosquittoBroker(tmp_path / "broker", users={"teleinfo": "right password"})
    broker.start()
    caplog.set_level(logging.INFO, "teleinforeader")
    sinks = []
    try:
        for password in ("wrong password", "right password"):
            settings = MqttSettings(enabled=True, host=broker.host, port=broker.port,
                                    username="teleinfo", password=password, publish="every_frame",
                                    reconnect_delay=0.05, reconnect_max_delay=0.1)  # fmt: skip
            sink = MqttSink(settings, "1.2.3", f"host-{len(sinks)}")
            sinks.append(sink)
            sink.start()
            sink.submit(base_frame(1_000_000, 0))
        wrong, right = sinks
        wait_for(lambda: wrong.status().counters["broker_errors"] >= 3, what="retries")
        wait_for(lambda: right.status().counters["broker_connections"] == 1, what="right password")
    finally:
        for sink in sinks:
            sink.close(2.0)
        broker.stop()
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1, refused
    assert "user name or password" in refused[0].lower() or "not authorized" in refused[0].lower()
    assert "right password" not in caplog.text and "wrong password" not in caplog.text


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certificates(tmp_path_factory.mktemp("mqtt-tls") / "tls")


def test_tls_with_the_generated_ca_and_a_refused_unverified_certificate(
    tmp_path: Path, certificates: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = MosquittoBroker(tmp_path / "broker", certificates=certificates)
    broker.start()
    recorder = Recorder(broker)
    caplog.set_level(logging.INFO, "teleinforeader")
    cases = {
        "verified": {"tls_ca": str(certificates / "ca.pem")},
        "unknown-ca": {},  # the system's CAs do not know the test CA
        "unverified": {"tls_verify": False},
    }
    sinks = {}
    try:
        for name, tls in cases.items():
            settings = MqttSettings(enabled=True, host=broker.host, port=broker.tls_port or 0,
                                    tls=True, publish="every_frame", topic_prefix=name,
                                    reconnect_delay=0.05, reconnect_max_delay=0.1,
                                    **tls)  # type: ignore[arg-type]  # fmt: skip
            sinks[name] = sink = MqttSink(settings, "1.2.3", name)
            sink.start()
            sink.submit(base_frame(1_000_000, 0))
        wait_for(lambda: states(recorder, SERIAL, "verified"), what="a state over verified TLS")
        wait_for(lambda: sinks["unknown-ca"].status().counters["broker_errors"] >= 2)
        wait_for(lambda: states(recorder, SERIAL, "unverified"), what="tls_verify = false")
    finally:
        for sink in sinks.values():
            sink.close(2.0)
        recorder.close()
        broker.stop()
    assert sinks["unknown-ca"].status().counters["broker_connections"] == 0
    assert not states(recorder, SERIAL, "unknown-ca")
    refused = [r.getMessage() for r in caplog.records if "certificate" in r.getMessage()]
    assert len(refused) == 1 and "TLS certificate refused" in refused[0], refused


def test_home_assistant_starting_brings_discovery_and_the_state_again(
    start_sink: StartSink, recorder: Recorder
) -> None:
    sink = start_sink(publish="on_change", interval=3600, heartbeat=3600)
    sink.submit(base_frame(1_000_000, 0))
    wait_for(lambda: configs(recorder) and states(recorder, SERIAL), what="first discovery")
    announced = len(recorder.matching(lambda t: t.endswith("/config")))
    recorder.clear()
    recorder.publish("homeassistant/status", "online")
    wait_for(lambda: len(recorder.matching(lambda t: t.endswith("/config"))) == announced,
             what="discovery again")  # fmt: skip
    wait_for(lambda: states(recorder, SERIAL), what="the state again, after discovery")
    assert sink.status().counters["homeassistant_starts"] == 1
    recorder.publish("homeassistant/status", "offline")  # Home Assistant stopping: nothing
    assert sink.status().counters["homeassistant_starts"] == 1


def test_two_meters_share_a_broker_without_collision(
    start_sink: StartSink, recorder: Recorder
) -> None:
    historic = simulated("historic-base", 2, seed=1)
    standard = simulated("standard-mono", 2, seed=2)
    serials = {historic[0].meter_id, standard[0].meter_id}
    assert len(serials) == 2
    for frames, host in ((historic, "pi-garage"), (standard, "pi-cellar")):
        sink = start_sink(hostname=host)
        for frame in frames:
            sink.submit(frame)
    for serial in serials:
        wait_for(lambda: states(recorder, serial), what=f"states of {serial}")  # noqa: B023
        wait_for(lambda: recorder.last(f"teleinforeader/{serial}/availability"))  # noqa: B023
        assert recorder.last(f"teleinforeader/{serial}/availability").payload == b"online"
    entities = checked_configs(recorder)
    by_meter = {
        serial: {uid for uid in entities if uid.startswith(f"{serial}_")} for serial in serials
    }
    assert all(by_meter.values()) and sum(map(len, by_meter.values())) == len(entities)
    devices = {json.dumps(config["device"]["identifiers"]) for _, config in entities.values()}
    assert len(devices) == 2
