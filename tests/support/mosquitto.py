"""A throwaway Mosquitto broker for tests and benchmarks: never the user's real one.

Plan: a configuration file of its own in a temporary directory (a plain listener on a free
loopback port; optionally a password file, made with `mosquitto_passwd`, and a TLS listener
whose certificates the test generates), `mosquitto -c` in the foreground, readiness when the
port accepts connections; then SIGTERM or SIGKILL, and a restart on the same ports, so that an
outage looks like one to a client. No persistence: a restarted broker has forgotten every
retained message, as a broker replaced by a fresh one would. `Recorder` is a paho client
that subscribes to everything and keeps what it receives, for the assertions.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, NamedTuple

from tests.support.server_process import ServerProcess, find_program, free_port

WAIT = 10.0  # seconds: generous, a loaded machine must not make a test flaky


def _program(name: str) -> str:
    return find_program(name, package="mosquitto")


class MosquittoBroker(ServerProcess):
    """One `mosquitto` process on 127.0.0.1:`port` (and `tls_port` with `certificates`)."""

    name = "mosquitto"
    stop_timeout = WAIT

    def __init__(
        self,
        base_directory: Path,
        users: Mapping[str, str] | None = None,
        certificates: Path | None = None,
    ) -> None:
        super().__init__(base_directory / "mosquitto.log")
        self.base_directory = base_directory
        base_directory.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls_port = free_port() if certificates else None
        self.users = dict(users or {})
        self.certificates = certificates
        self.config_path = base_directory / "mosquitto.conf"
        self._write_config()

    def _write_config(self) -> None:
        lines = [
            "persistence false",
            f"log_dest file {self.log_path}",
            "log_type all",
            "connection_messages true",
            f"listener {self.port} {self.host}",
        ]
        if os.geteuid() == 0:
            lines.insert(0, "user root")  # else it drops to a user that cannot read tmp files
        if self.users:
            password_file = self.base_directory / "passwords"
            password_file.write_text("")
            for user, password in self.users.items():
                subprocess.run(
                    [_program("mosquitto_passwd"), "-b", str(password_file), user, password],
                    check=True,
                    capture_output=True,
                )
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        if self.certificates is not None:
            c = self.certificates
            lines += [
                f"listener {self.tls_port} {self.host}",
                f"cafile {c / 'ca.pem'}",
                f"certfile {c / 'server.pem'}",
                f"keyfile {c / 'server.key'}",
            ]
        self.config_path.write_text("\n".join(lines) + "\n")

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = WAIT) -> None:
        ports = [self.port] + ([self.tls_port] if self.tls_port else [])
        self._launch(
            [_program("mosquitto"), "-c", str(self.config_path)],
            lambda: all(self._accepts(port) for port in ports),
            timeout,
        )

    def _accepts(self, port: int | None) -> bool:
        try:
            socket.create_connection((self.host, port or 0), timeout=1).close()
            return True
        except OSError:
            return False


class Message(NamedTuple):
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


class Recorder:
    """A subscriber to every topic that keeps every message, for assertions (paho-mqtt)."""

    def __init__(self, broker: MosquittoBroker, topic: str = "#", **credentials: str) -> None:
        import paho.mqtt.client as mqtt

        self._mqtt = mqtt
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"recorder-{id(self)}"
        )
        if credentials:
            self.client.username_pw_set(credentials["username"], credentials["password"])
        self.client.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        if not self._subscribed.wait(WAIT):
            raise AssertionError("the recorder did not subscribe")

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        with self._lock:
            self.messages.append(Message(message.topic, bytes(message.payload), message.retain))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(WAIT)

    # -- what was received -------------------------------------------------------------------

    def on(self, topic: str) -> list[Message]:
        with self._lock:
            return [message for message in self.messages if message.topic == topic]

    def last(self, topic: str) -> Message | None:
        messages = self.on(topic)
        return messages[-1] if messages else None

    def matching(self, predicate: Callable[[str], bool]) -> list[Message]:
        with self._lock:
            return [message for message in self.messages if predicate(message.topic)]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
