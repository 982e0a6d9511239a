"""Typed settings, one class per configuration file section, every key with a default.

The defaults serve a Raspberry Pi with a PiTInfo shield: `/dev/serial0`, mode detected, SQLite
in the state directory, the socket server on port 50007, the web page on port 8080.
`teleinforeader.config` turns a TOML file into these objects; everything else only ever sees
these objects, never raw TOML.

A section is a `Section`: its keys are its annotated class attributes, their values the
defaults. An instance takes keyword arguments, is immutable, equal to another with the same
values and hashable, and its repr() leaves out secrets. These are not dataclasses on purpose:
building nine frozen dataclasses compiles their generated methods at every import and brings in
`dataclasses` with `inspect`, `ast` and `dis`, a sixth of the daemon's start-up on a Pi Zero;
a `Section` subclass costs what a plain class costs.
"""

# No `from __future__ import annotations`: a section's annotations are its keys' types, which
# `fields()` hands to the loader as they are (each is valid at run time on Python 3.9).

from typing import Any

try:
    from typing import dataclass_transform
except ImportError:  # pragma: no cover - Python 3.9 and 3.10: it only informs type checkers

    def dataclass_transform(**_: Any) -> Any:
        return lambda cls: cls


DEFAULT_CONFIG_PATH = "/etc/teleinforeader/teleinforeader.toml"
DEFAULT_STATE_DIRECTORY = "/var/lib/teleinforeader"
PASSWORD_ENVIRONMENT_VARIABLE = "TELEINFOREADER_DB_PASSWORD"
MQTT_PASSWORD_ENVIRONMENT_VARIABLE = "TELEINFOREADER_MQTT_PASSWORD"


class Setting:
    """One key of a section: its name, its type (a section class for a subsection), its default
    and whether its value is a secret."""

    __slots__ = ("default", "name", "secret", "type")

    def __init__(self, name: str, type: Any, default: Any, secret: bool) -> None:
        self.name, self.type, self.default, self.secret = name, type, default, secret

    def __repr__(self) -> str:
        return f"Setting({self.name!r}, {self.type!r}, {self.default!r}, secret={self.secret})"


class _Secret:
    """The default of a secret key, as `secret()` marks it in a class body."""

    __slots__ = ("default",)

    def __init__(self, default: str) -> None:
        self.default = default


def secret(default: str = "") -> Any:
    """A setting whose value is never shown: not in a configuration error (which names its
    type instead), nor in repr() and so in no log line, nor in `check-config`'s output."""
    return _Secret(default)


def is_secret(setting: Setting) -> bool:
    return setting.secret


@dataclass_transform(kw_only_default=True)
class Section:
    """The base of every section (see the module's docstring)."""

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        settings = []
        for name, kind in cls.__annotations__.items():
            default = cls.__dict__[name]  # every key has a default
            hidden = isinstance(default, _Secret)
            if hidden:
                default = default.default
                setattr(cls, name, default)
            settings.append(Setting(name, kind, default, hidden))
        cls._settings = tuple(settings)
        cls._names = frozenset(setting.name for setting in settings)

    def __init__(self, **values: Any) -> None:
        unknown = values.keys() - self._names
        if unknown:
            raise TypeError(f"{type(self).__name__} has no setting {min(unknown)!r}")
        for name, value in values.items():  # the others read the class's default
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, setting.name) for setting in self._settings)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to setting {name!r}: settings are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete setting {name!r}: settings are immutable")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = (
            f"{setting.name}={getattr(self, setting.name)!r}"
            for setting in self._settings
            if not setting.secret
        )
        return f"{type(self).__name__}({', '.join(shown)})"


def fields(section: Any) -> tuple[Setting, ...]:
    """The keys of a section class or instance, in declaration order."""
    return section._settings


def is_section(thing: Any) -> bool:
    """True for a section, or a section class (a subsection's type)."""
    return isinstance(thing, Section) or (isinstance(thing, type) and issubclass(thing, Section))


def replace(section: Any, **changes: Any) -> Any:
    """A copy of `section` with the values of `changes`."""
    return type(section)(**{**section.__dict__, **changes})


class SourceSettings(Section):
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


class GuardSettings(Section):
    """[guard]: the plausibility guard between decoder and sinks."""

    enabled: bool = True
    # Largest power (VA) an index may be credited with between two frames; 0 = derive it from
    # the meter's own subscription (ISOUSC x 200 V, or PREF), with a margin.
    max_power: int = 0


class MariaDBSettings(Section):
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


class DatabaseSettings(Section):
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
    mariadb: MariaDBSettings = MariaDBSettings()


class ServerSettings(Section):
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


class HttpSettings(Section):
    """[http]: the web page, the JSON API, /metrics and /healthz (read-only)."""

    enabled: bool = True
    host: str = "0.0.0.0"  # as [server] host
    port: int = 8080
    max_clients: int = 32  # connections at once (a browser tab holds two or three)
    allow: tuple[str, ...] = ()  # client networks (CIDR); empty = anyone


class MqttSettings(Section):
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


class DaemonSettings(Section):
    """[daemon]: process-wide behaviour."""

    state_directory: str = DEFAULT_STATE_DIRECTORY  # $STATE_DIRECTORY (systemd) wins
    log_level: str = "info"
    status_interval: float = 300.0  # seconds between summary log lines; 0 = never


class Settings(Section):
    """The whole file: one attribute per section."""

    source: SourceSettings = SourceSettings()
    guard: GuardSettings = GuardSettings()
    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = ServerSettings()
    http: HttpSettings = HttpSettings()
    mqtt: MqttSettings = MqttSettings()
    daemon: DaemonSettings = DaemonSettings()
