"""Typed settings, one dataclass per configuration file section, every key with a default.

The defaults serve a Raspberry Pi with a PiTInfo shield: `/dev/serial0`, mode detected, SQLite
in the state directory, the socket server on port 50007, the web page on port 8080.
`teleinforeader.config` turns a TOML file into these objects; everything else only ever sees
these objects, never raw TOML.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_PATH = Path("/etc/teleinforeader/teleinforeader.toml")
DEFAULT_STATE_DIRECTORY = Path("/var/lib/teleinforeader")
PASSWORD_ENVIRONMENT_VARIABLE = "TELEINFOREADER_DB_PASSWORD"
MQTT_PASSWORD_ENVIRONMENT_VARIABLE = "TELEINFOREADER_MQTT_PASSWORD"


def secret(default: str = "") -> Any:
    """A setting whose value is never shown: not in a configuration error (which names its
    type instead), nor in repr() and so in no log line, nor in `check-config`'s output."""
    return field(default=default, repr=False, metadata={"secret": True})


def is_secret(setting: dataclasses.Field) -> bool:
    return bool(setting.metadata.get("secret"))


@dataclass(frozen=True)
class SourceSettings:
    """[source]: where the TIC bytes come from."""

    type: str = "serial"  # serial | replay | simulator
    device: str = "/dev/serial0"  # serial: device path or pyserial URL (socket://, rfc2217://)
    mode: str = "auto"  # auto | historic | standard
    silence_timeout: float = 30.0  # seconds without a valid frame -> reopen, re-detect
    file: str = ""  # replay: the capture to play
    speed: float = 1.0  # replay/simulator: 1.0 = real line pace, 0 = as fast as possible
    loop: bool = False  # replay: start again at the end
    profile: str = "historic-base"  # simulator: which meter (see sources.simulator.PROFILES)
    seed: int = 0  # simulator: same seed, same frames


@dataclass(frozen=True)
class GuardSettings:
    """[guard]: the plausibility guard between decoder and sinks."""

    enabled: bool = True
    # Largest power (VA) an index may be credited with between two frames; 0 = derive it from
    # the meter's own subscription (ISOUSC x 200 V, or PREF), with a margin.
    max_power: int = 0


@dataclass(frozen=True)
class MariaDBSettings:
    """[database.mariadb]: the server, when `database.backend = "mariadb"`."""

    host: str = "localhost"
    port: int = 3306
    unix_socket: str = ""
    user: str = "teleinfo"
    password: str = secret()
    password_file: str = ""  # read the password from this file instead
    database: str = "teleinfodb"
    connect_timeout: float = 10.0
    tls: bool = False
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    tls_verify: bool = True


@dataclass(frozen=True)
class DatabaseSettings:
    """[database]: which frames become rows, and where they go."""

    backend: str = "sqlite"  # sqlite | mariadb | none
    store_interval: float = 5.0  # seconds between stored frames; 0 = every frame
    flush_interval: float = 2.0  # seconds between commits
    batch_size: int = 500  # rows per commit at most
    memory_backlog: int = 10_000  # frames waiting in memory for the database at most, then spool
    reader: str = ""  # this reader's name in a shared database; "" = the host name
    # Fill TeleInfoMonitor's eleven columns of teleinfoframes for any meter (standard-mode frames
    # get a row there too), from the mapping in tic/teleinfomonitor.py.
    teleinfomonitor: bool = False
    sqlite_path: str = "teleinforeader.sqlite3"  # relative to the state directory
    reconnect_delay: float = 1.0  # seconds before the first reconnection attempt, then doubled
    reconnect_max_delay: float = 30.0  # ... up to this
    mariadb: MariaDBSettings = field(default_factory=MariaDBSettings)


@dataclass(frozen=True)
class ServerSettings:
    """[server]: the TCP JSON-lines broadcast."""

    enabled: bool = True
    host: str = "0.0.0.0"  # "::" listens on IPv6 (and IPv4 where the system allows)
    port: int = 50007
    max_clients: int = 32
    allow: tuple[str, ...] = ()  # client networks (CIDR); empty = anyone
    client_buffer: int = 256 * 1024  # bytes queued for one client before it is dropped
    # Seconds between the starts of two lines to one client: more than a link that batches
    # what arrives within 100 ms needs, well under the shortest frame (0.5 s on the line).
    line_gap: float = 0.25
    # Send TeleInfoMonitor's ten labels, mapped for any meter, as `frame` instead of the
    # meter's own groups (tic/teleinfomonitor.py).
    teleinfomonitor: bool = False


@dataclass(frozen=True)
class HttpSettings:
    """[http]: the web page, the JSON API, /metrics and /healthz (read-only)."""

    enabled: bool = True
    host: str = "0.0.0.0"  # as [server] host
    port: int = 8080
    max_clients: int = 32  # connections at once (a browser tab holds two or three)
    allow: tuple[str, ...] = ()  # client networks (CIDR); empty = anyone


@dataclass(frozen=True)
class MqttSettings:
    """[mqtt]: publish to an MQTT broker, with Home Assistant discovery (the `mqtt` extra)."""

    enabled: bool = False
    host: str = "localhost"
    port: int = 1883  # 8883 is the usual port with TLS
    username: str = ""
    password: str = secret()
    password_file: str = ""  # read the password from this file instead
    client_id: str = ""  # "" = teleinforeader-<host name>-<meter serial number>
    topic_prefix: str = "teleinforeader"  # states on <topic_prefix>/<serial>/state
    discovery: bool = True  # Home Assistant MQTT discovery
    discovery_prefix: str = "homeassistant"
    qos: int = 0  # states; availability and discovery always go with QoS 1
    # every_frame | interval (the latest frame every `interval` s) | on_change (a state when a
    # value changed, at most every `interval` s, and at least every `heartbeat` s)
    publish: str = "on_change"
    interval: float = 10.0
    heartbeat: float = 300.0
    keepalive: int = 60  # seconds between two pings of an idle connection
    tls: bool = False
    tls_ca: str = ""  # "" = the system's CAs
    tls_cert: str = ""
    tls_key: str = ""
    tls_verify: bool = True
    reconnect_delay: float = 1.0  # seconds before the first reconnection attempt, then doubled
    reconnect_max_delay: float = 60.0  # ... up to this


@dataclass(frozen=True)
class DaemonSettings:
    """[daemon]: process-wide behaviour."""

    state_directory: str = str(DEFAULT_STATE_DIRECTORY)  # $STATE_DIRECTORY (systemd) wins
    log_level: str = "info"
    status_interval: float = 300.0  # seconds between summary log lines; 0 = never


@dataclass(frozen=True)
class Settings:
    source: SourceSettings = field(default_factory=SourceSettings)
    guard: GuardSettings = field(default_factory=GuardSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
