"""One connection to the broker: a paho-mqtt 2.x client driven by the sink's own thread.

paho's network thread (`loop_start`) would wake every second whatever happens; on a Pi Zero
the sink instead runs paho's documented external-loop interface (`loop_read`, `loop_write`,
`loop_misc` on `socket()`), in the same `select` as its own wake-up socket, so the thread
sleeps until a state is due, the broker speaks, or a keepalive ping is due. Only that thread
ever touches the client. paho is imported here, and this module only when the sink is enabled.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
from typing import Any, Callable

import paho.mqtt.client as mqtt

from teleinforeader.settings import MqttSettings
from teleinforeader.sinks.mqtt.naming import OFFLINE

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0  # seconds for the TCP connection and the TLS handshake
# QoS 1 messages paho keeps until the broker acknowledges them. The sink never publishes while
# disconnected and sends only the latest state, so this only bounds a burst (discovery of a
# three-phase producer is about 70 messages) and what was in flight when a connection broke.
MAX_QUEUED = 200
MAX_INFLIGHT = MAX_QUEUED  # a discovery burst goes out at once, before the state it describes

MessageHandler = Callable[[str, bytes], None]


def describe_error(error: BaseException) -> str:
    """A connection failure in a few words, for the one log line of an outage."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate refused: {error.verify_message or error.reason}"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed: {error.reason or error}"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror})"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "no answer (timed out)"
    if isinstance(error, OSError):
        return (error.strerror or str(error)).lower()
    return str(error)


def wait_readable(sock: socket.socket, timeout: float) -> bool:
    """Sleep until `sock` has something to read, at most `timeout` seconds."""
    readable, _, _ = select.select([sock], [], [], max(0.0, timeout))
    return bool(readable)


def tls_context(settings: MqttSettings) -> ssl.SSLContext:
    """TLS as configured: the given CA (else the system's), a client certificate if any, and
    the broker's certificate and name checked unless `tls_verify = false`."""
    context = ssl.create_default_context(cafile=settings.tls_ca or None)
    if settings.tls_cert:
        context.load_cert_chain(settings.tls_cert, settings.tls_key or None)
    if not settings.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class BrokerConnection:
    """One paho client for one connection attempt (its will names the meter it serves)."""

    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        will_topic: str,
        on_message: MessageHandler,
    ) -> None:
        self.settings = settings
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if settings.username:
            client.username_pw_set(settings.username, settings.password or None)
        client.will_set(will_topic, OFFLINE, qos=1, retain=True)
        if settings.tls:
            client.tls_set_context(tls_context(settings))
        client.max_queued_messages_set(MAX_QUEUED)
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.connect_timeout = CONNECT_TIMEOUT
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.client = client
        self._handler = on_message
        self.accepted: bool | None = None  # the CONNACK: None until it comes
        self.refusal = ""  # why the broker refused, when it did
        self.lost = ""  # why an accepted connection ended ("" while it lasts)

    # -- lifecycle ----------------------------------------------------------------------------

    def open(self) -> None:
        """TCP (and TLS) connection and the CONNECT packet; the CONNACK comes later, through
        `step`. Raises OSError (ssl.SSLError included) when the broker cannot be reached."""
        self.client.connect(self.settings.host, self.settings.port, self.settings.keepalive)

    @property
    def is_open(self) -> bool:
        return self.client.socket() is not None

    def close(self) -> None:
        """A clean DISCONNECT (the broker then drops the will), the socket closed."""
        if self.is_open:
            self.client.disconnect()
            self.client.loop_write()  # sends the DISCONNECT, then paho closes the socket

    # -- the loop -----------------------------------------------------------------------------

    def step(self, timeout: float, wake: socket.socket) -> bool:
        """Wait up to `timeout` seconds for the broker or `wake`, serve the broker; True when
        `wake` is readable (the caller drains it)."""
        client = self.client
        sock = client.socket()
        if sock is None:
            return wait_readable(wake, timeout)
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            timeout = 0.0  # TLS has bytes decrypted already: select would not see them
        writers = [sock] if client.want_write() else []
        readable, writable, _ = select.select([sock, wake], writers, [], max(0.0, timeout))
        if sock in readable or (isinstance(sock, ssl.SSLSocket) and sock.pending()):
            client.loop_read()
        if writable and client.socket() is not None:
            client.loop_write()
        if client.socket() is not None:
            client.loop_misc()  # keepalive: a PINGREQ when due, a dead link detected
        return wake in readable

    def flush(self) -> None:
        """Write what paho holds, as far as the socket takes it now."""
        if self.client.socket() is not None and self.client.want_write():
            self.client.loop_write()

    @property
    def writing(self) -> bool:
        """Output still waits for the socket (a slow or stalled broker)."""
        return self.client.want_write()

    def publish(self, topic: str, payload: bytes | str, qos: int, retain: bool) -> bool:
        """Queue one message; False when paho refused it (its queue is full)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)

    # -- paho's callbacks (called from `step`, on the sink's thread) ------------------------

    def _on_connect(
        self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self.accepted = not reason.is_failure
        if reason.is_failure:
            self.refusal = str(reason)

    def _on_disconnect(
        self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self.lost = str(reason) if reason.is_failure else "connection closed"

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        self._handler(message.topic, message.payload)
