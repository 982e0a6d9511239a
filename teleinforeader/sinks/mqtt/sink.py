"""The MQTT sink: the meter's state, availability and Home Assistant discovery on a broker.

Plan: `submit` (pipeline thread) folds the frame into the meter's picture (references only),
asks the publishing policy whether a state is due and, only then, hands an immutable snapshot
to the sink's thread and wakes it through a socketpair. Frames that are not due cost no
wake-up. The thread owns the paho client (see `connection.py`): it connects once the first
frame gives the meter's serial number (the last will names the meter's availability topic),
announces `online` (retained), subscribes to Home Assistant's status topic, sends the discovery
config of every entity (retained) and the latest state, then publishes each due state.

A broker that is away, refuses the credentials or drops the connection: one log line for the
outage, reconnection with a doubling delay (`reconnect_delay` .. `reconnect_max_delay`), and
on return `online`, the discovery and the latest state again. While it is away nothing is
queued: states are snapshots, only the latest matters, so memory stays bounded whatever the
outage lasts and nothing else in the pipeline waits. Home Assistant announcing itself
(`<discovery_prefix>/status` = `online`) brings discovery and the state again after a short
random delay. A meter silent for METER_SILENT seconds is shown `offline` until it speaks again.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter, deque
from typing import Callable

from teleinforeader.settings import MqttSettings
from teleinforeader.sinks.base import Sink, SinkStatus, Worker
from teleinforeader.sinks.mqtt.connection import BrokerConnection, describe_error, wait_readable
from teleinforeader.sinks.mqtt.discovery import config_messages, model
from teleinforeader.sinks.mqtt.entities import Entity, entities_for
from teleinforeader.sinks.mqtt.naming import OFFLINE, ONLINE, Topics
from teleinforeader.sinks.mqtt.picture import MeterPicture, Snapshot
from teleinforeader.sinks.mqtt.policy import PublishPolicy
from teleinforeader.sinks.mqtt.state import state_of
from teleinforeader.sinks.wakeup import WakeChannel, stop_worker
from teleinforeader.tic import Frame

log = logging.getLogger(__name__)

METER_SILENT = 60.0  # seconds without a frame: the meter is shown unavailable
BIRTH_DELAY = (0.5, 2.0)  # seconds: discovery again after Home Assistant's birth message
CONTROL_QOS = 1  # availability, discovery and the subscription must arrive
# Named apart from the pipeline's and the database's counters: the summary line shows them all.
COUNTERS = (
    "states",  # states published
    "states_skipped",  # due while the broker was away or still busy with the previous one
    "discovery",  # discovery config messages sent
    "broker_connections",  # connections the broker accepted
    "broker_errors",  # attempts that failed (unreachable, TLS, refused credentials)
    "broker_lost",  # accepted connections that broke
    "queue_full",  # messages paho refused: its queue was full
    "homeassistant_starts",  # Home Assistant birth messages seen
)


class MqttSink(Sink):
    name = "mqtt"

    def __init__(
        self,
        settings: MqttSettings,
        version: str,
        hostname: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._version = version
        self._hostname = hostname
        self._clock = clock
        self._policy = PublishPolicy(settings.publish, settings.interval, settings.heartbeat)
        self._picture: MeterPicture | None = None
        # The latest due snapshot, from submit to the thread (append and popleft are atomic).
        self._pending: deque[Snapshot] = deque(maxlen=1)
        self._last_frame_at = -METER_SILENT
        self._wakeup = WakeChannel()
        self._stopping = False
        self._close_deadline = 0.0
        self.counters: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
        self._worker = Worker("mqtt", self._run)
        # The thread's own, from here on.
        self._latest: Snapshot | None = None
        self._topics: Topics | None = None
        self._connection: BrokerConnection | None = None
        self._ready = False  # the broker accepted the connection
        self._announced: dict[Entity, str] = {}  # entity -> the model it was announced with
        self._meter_online = False
        self._retry_at = 0.0
        self._delay = settings.reconnect_delay
        self._outage_since: float | None = None
        self._failures = 0
        self._rediscover_at: float | None = None

    # -- the pipeline's side -------------------------------------------------------------------

    def start(self) -> None:
        self._worker.start()
        s = self.settings
        log.info(
            "publishing to the MQTT broker %s:%d (%s)%s once the meter's serial number is known",
            s.host,
            s.port,
            s.publish.replace("_", " "),
            ", with Home Assistant discovery" if s.discovery else "",
        )

    def submit(self, frame: Frame) -> None:
        if self._stopping:
            return
        now = self._clock()
        self._last_frame_at = now
        picture = self._picture
        serial = frame.meter_id or (picture.serial if picture is not None else None)
        if serial is None:
            return  # the serial number was lost to noise and no meter is known yet
        if picture is None or picture.serial != serial or picture.mode != frame.mode:
            picture = self._picture = MeterPicture(serial, frame.mode)
            self._policy.reset()
        picture.see(frame)
        if self._policy.due(frame, now):
            self._pending.append(picture.snapshot())
            self._wakeup.wake()

    def patience(self) -> float:
        """A state goes out every `interval` seconds at most (except with every_frame): a
        frame may wait that long."""
        return self._policy.patience

    def close(self, timeout: float) -> None:
        self._close_deadline = self._clock() + timeout
        self._stopping = True
        stop_worker(self._worker, self._wakeup, timeout)

    def status(self) -> SinkStatus:
        counters = dict(self.counters)
        counters["broker_connected"] = int(self._ready)
        return SinkStatus(
            alive=self._worker.healthy,
            backlog=len(self._pending),
            progress=counters["states"],
            counters=counters,
        )

    # -- the sink's thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping:
                self._take_pending()
                connection = self._connection
                if connection is None:
                    self._idle()
                else:
                    woken = connection.step(self._timeout(), self._wakeup.reader)
                    if woken:
                        self._wakeup.drain()
                    self._after_step(connection)
            self._take_pending()
            self._shut_down()
        finally:
            self._wakeup.close()

    def _idle(self) -> None:
        """No connection: wait for the first meter, or for the next attempt, then connect."""
        latest = self._latest
        now = self._clock()
        if latest is None or now < self._retry_at:
            timeout = None if latest is None else self._retry_at - now
            if wait_readable(self._wakeup.reader, 3600.0 if timeout is None else timeout):
                self._wakeup.drain()
            return
        self._connect(latest)

    def _take_pending(self) -> None:
        """The snapshot submit handed over, if any: publish it when connected."""
        try:
            snapshot = self._pending.popleft()
        except IndexError:
            return
        self._latest = snapshot
        if self._topics is not None and snapshot.serial != self._topics.serial:
            self._change_meter()
        elif self._ready:
            self._publish_state(snapshot)
        else:
            self.counters["states_skipped"] += 1

    def _timeout(self) -> float:
        """Until the next thing the thread must do by itself: a keepalive check, the meter
        going silent, discovery after Home Assistant's birth, the end of a close."""
        now = self._clock()
        deadlines = [now + self.settings.keepalive / 4]
        if self._meter_online:
            deadlines.append(self._last_frame_at + METER_SILENT)
        if self._rediscover_at is not None:
            deadlines.append(self._rediscover_at)
        return max(0.0, min(deadlines) - now)

    def _after_step(self, connection: BrokerConnection) -> None:
        if connection.accepted is False:
            self._connection_failed(f"the broker refused the connection: {connection.refusal}")
            connection.close()
            self._connection = None
            return
        if not connection.is_open:
            self._lost(connection)
            return
        if connection.accepted and not self._ready:
            self._on_accepted()
        if not self._ready:
            return
        if self._rediscover_at is not None and self._clock() >= self._rediscover_at:
            self._rediscover_at = None
            self._announce_all()
        self._follow_meter()

    def _follow_meter(self) -> None:
        """Availability follows the meter: offline once it is silent, online when it speaks."""
        silent = self._clock() - self._last_frame_at >= METER_SILENT
        if silent == self._meter_online:
            self._set_meter_online(not silent)

    # -- connecting ------------------------------------------------------------------------

    def _client_id(self, serial: str) -> str:
        return self.settings.client_id or f"teleinforeader-{self._hostname}-{serial}"

    def _connect(self, snapshot: Snapshot) -> None:
        s = self.settings
        self._topics = Topics(s.topic_prefix, s.discovery_prefix, snapshot.serial)
        connection = BrokerConnection(
            s, self._client_id(snapshot.serial), self._topics.availability, self._on_message
        )
        try:
            connection.open()
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            self._connection_failed(describe_error(error))
            return
        self._connection = connection

    def _connection_failed(self, reason: str) -> None:
        self.counters["broker_errors"] += 1
        self._failures += 1
        now = self._clock()
        if self._outage_since is None:
            self._outage_since = now
            s = self.settings
            log.warning(
                "MQTT broker %s:%d: %s; retrying every %g s at most (logged once until it works)",
                s.host,
                s.port,
                reason,
                s.reconnect_max_delay,
            )
        self._retry_at = now + self._delay
        self._delay = min(self._delay * 2, self.settings.reconnect_max_delay)

    def _on_accepted(self) -> None:
        s = self.settings
        self._ready = True
        self._delay = s.reconnect_delay
        self.counters["broker_connections"] += 1
        if self._outage_since is not None:
            log.info(
                "connected to the MQTT broker %s:%d after %d failed attempts in %.0f s",
                s.host,
                s.port,
                self._failures,
                self._clock() - self._outage_since,
            )
        else:
            log.info("connected to the MQTT broker %s:%d", s.host, s.port)
        self._outage_since, self._failures = None, 0
        assert self._topics is not None and self._connection is not None
        if s.discovery:
            self._connection.subscribe(self._topics.homeassistant_status)
        self._set_meter_online(self._clock() - self._last_frame_at < METER_SILENT)
        self._announce_all()

    def _lost(self, connection: BrokerConnection) -> None:
        self._connection = None
        was_ready, self._ready = self._ready, False
        self._meter_online = False
        self._announced.clear()
        if was_ready:
            self.counters["broker_lost"] += 1
            self._outage_since = self._clock()
            self._failures = 0
            s = self.settings
            log.warning(
                "lost the MQTT broker %s:%d (%s); reconnecting", s.host, s.port, connection.lost
            )
            self._retry_at = self._clock() + self._delay
        else:  # the TCP connection worked, the MQTT session did not start
            self._connection_failed(connection.lost or "the broker closed the connection")

    def _change_meter(self) -> None:
        """Another serial number: the old meter goes offline, the will must name the new one."""
        connection = self._connection
        if connection is not None:
            if self._ready:
                self._set_meter_online(False)
                connection.flush()
            connection.close()
        self._connection, self._ready, self._topics = None, False, None
        self._announced.clear()
        self._retry_at = 0.0

    def _on_message(self, topic: str, payload: bytes) -> None:
        topics = self._topics
        if topics and topic == topics.homeassistant_status and payload.strip() == b"online":
            self.counters["homeassistant_starts"] += 1
            self._rediscover_at = self._clock() + random.uniform(*BIRTH_DELAY)

    # -- publishing ------------------------------------------------------------------------

    def _publish(self, topic: str, payload: bytes | str, qos: int, retain: bool) -> bool:
        assert self._connection is not None
        if self._connection.publish(topic, payload, qos, retain):
            return True
        self.counters["queue_full"] += 1
        return False

    def _set_meter_online(self, online: bool) -> None:
        assert self._topics is not None
        self._meter_online = online
        self._publish(self._topics.availability, ONLINE if online else OFFLINE, CONTROL_QOS, True)

    def _announce_all(self) -> None:
        """Discovery of every entity and the latest state: after connecting, and when Home
        Assistant (re)starts."""
        self._announced.clear()
        if self._latest is not None:
            self._publish_state(self._latest, force=True)

    def _publish_state(self, snapshot: Snapshot, force: bool = False) -> None:
        assert self._connection is not None and self._topics is not None
        if self._connection.writing and not force:
            self.counters["states_skipped"] += 1  # the previous one is still on its way
            return
        self._follow_meter()
        state = state_of(snapshot)
        if self.settings.discovery:
            self._discover(state)
        payload = json.dumps(state, separators=(",", ":"))
        if self._publish(self._topics.state, payload, self.settings.qos, True):
            self.counters["states"] += 1

    def _discover(self, state: dict[str, object]) -> None:
        """Config messages for the entities not yet announced with this device model."""
        assert self._topics is not None
        current = model(state)
        new = [entity for entity in entities_for(state) if self._announced.get(entity) != current]
        if not new:
            return
        for topic, payload in config_messages(
            new, self._topics, state, self._version, self.settings.qos
        ):
            if self._publish(topic, payload, CONTROL_QOS, True):
                self.counters["discovery"] += 1
        for entity in new:
            self._announced[entity] = current

    # -- stopping --------------------------------------------------------------------------

    def _shut_down(self) -> None:
        """The meter offline (a clean disconnect drops the will), what is queued sent."""
        connection = self._connection
        if connection is None:
            return
        if self._ready:
            self._set_meter_online(False)
            while (
                connection.writing and connection.is_open and self._clock() < self._close_deadline
            ):
                if connection.step(
                    max(0.0, self._close_deadline - self._clock()), self._wakeup.reader
                ):
                    self._wakeup.drain()
        connection.close()
