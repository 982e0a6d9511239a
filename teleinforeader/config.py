"""The configuration file: TOML in, `Settings` out, every mistake one line that names the file,
the key, what was expected and what was found.

The loader walks the sections of `teleinforeader.settings`, so a key added there is read and
type-checked with no change here. `RULES` narrows the keys whose values have more shape than
their type (ranges, enumerations, networks); every other number must be at least 0. Checks that
involve several keys or the file system run once a section is built (`SECTION_CHECKS`).

Mistakes are refused, never guessed around: an unknown key or section is an error (with the
closest known name), because a silently ignored typo is a setting the owner believes in and
the daemon does not apply.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from typing import Protocol, Union

    StrPath = Union[str, os.PathLike[str]]  # a file name, as the caller has it

from teleinforeader.files import (
    KIB,
    MIB,
    UnreadableFileError,
    check_regular_file,
    read_regular_file,
)
from teleinforeader.logs import LOG_LEVELS
from teleinforeader.settings import (
    DEFAULT_CONFIG_PATH,
    MQTT_PASSWORD_ENVIRONMENT_VARIABLE,
    PASSWORD_ENVIRONMENT_VARIABLE,
    MariaDBSettings,
    MqttSettings,
    Settings,
    SourceSettings,
    fields,
    is_secret,
    is_section,
    replace,
)
from teleinforeader.sinks.database import BACKENDS
from teleinforeader.sources import SOURCE_TYPES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.9 and 3.10 only
    import tomli as tomllib

EX_CONFIG = 78  # sysexits.h: systemd's RestartPreventExitStatus= keeps a broken file from looping
MASK = "********"
NO_FILE = "built-in defaults"  # names the source of the settings when no file was read
MAX_CONFIG_FILE = 1 * MIB  # a real one is a few KiB
MAX_PASSWORD_FILE = 64 * KIB
SHOWN_CHARACTERS = 200  # of a long string in an error; the rest is counted, not copied


class ConfigError(Exception):
    """A mistake in the configuration; str() is the whole one-line message."""


class _RefusedError(ValueError):
    """A value a rule does not accept; its text, when any, says why in a few words."""


if TYPE_CHECKING:

    class Rule(Protocol):
        """What one key accepts: `expected` completes "expected ...", `parse` returns the value
        to keep or raises _RefusedError."""

        @property
        def expected(self) -> str: ...

        def parse(self, value: Any) -> Any: ...


# --- rules: what one key accepts ----------------------------------------------------------


class Boolean:
    expected = "true or false"

    def parse(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise _RefusedError
        return value


class Number:
    """An integer (`kind` int) or a number (`kind` float, which takes integers too) in a range."""

    def __init__(
        self, kind: type = float, low: int = 0, high: int | None = None, low_excluded: bool = False
    ) -> None:
        self.kind, self.low, self.high, self.low_excluded = kind, low, high, low_excluded
        noun = "an integer" if kind is int else "a number"
        if high is not None:
            self.expected = f"{noun} from {low} to {high}"
        elif low_excluded:
            self.expected = f"{noun} greater than {low}"
        else:
            self.expected = f"{noun} of at least {low}"

    def parse(self, value: Any) -> int | float:
        accepted = (int, float) if self.kind is float else (int,)
        if isinstance(value, bool) or not isinstance(value, accepted) or not math.isfinite(value):
            raise _RefusedError
        too_low = value <= self.low if self.low_excluded else value < self.low
        if too_low or (self.high is not None and value > self.high):
            raise _RefusedError
        return self.kind(value)


class Text:
    """A string; with `choices` (names, or a function returning them) one of those names."""

    def __init__(self, choices: Sequence[str] | Callable[[], Sequence[str]] | None = None) -> None:
        self.choices = choices

    def names(self) -> Sequence[str]:
        return self.choices() if callable(self.choices) else (self.choices or ())

    @property
    def expected(self) -> str:
        if self.choices is None:
            return "a string"
        return "one of " + ", ".join(toml_value(name) for name in self.names())

    def parse(self, value: Any) -> str:
        if not isinstance(value, str):
            raise _RefusedError
        names = self.names()
        if self.choices is not None and value not in names:
            raise _RefusedError(_did_you_mean(value, names, toml_value))
        return value


class Network:
    expected = 'a network in CIDR notation, such as "192.168.1.0/24"'

    def parse(self, value: Any) -> str:
        import ipaddress

        if not isinstance(value, str):
            raise _RefusedError
        try:
            ipaddress.ip_network(value)
        except ValueError as error:
            raise _RefusedError(str(error)) from None
        return value


class TopicPrefix:
    """The first levels of an MQTT topic: no wildcard, no empty level, no NUL."""

    expected = 'a topic prefix such as "teleinforeader" (no +, # or empty level)'

    def parse(self, value: Any) -> str:
        if not isinstance(value, str):
            raise _RefusedError
        if "+" in value or "#" in value:
            raise _RefusedError("wildcards are for subscribing")
        if "\0" in value:
            raise _RefusedError("a NUL character")
        if "" in value.split("/"):
            raise _RefusedError("an empty level")
        return value


class Array:
    """A TOML array, each item checked by `item` (errors name the item as `key[index]`)."""

    def __init__(self, item: Rule | None = None) -> None:
        self.item = item or Text()
        self.expected = f"an array whose items are each {self.item.expected}"

    def parse(self, value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise _RefusedError
        return tuple(value)


def _simulator_profiles() -> Sequence[str]:
    """Imported only when a file names a profile: the simulator brings the encoder in."""
    from teleinforeader.sources.simulator import PROFILES

    return tuple(PROFILES)


def _source_modes() -> Sequence[str]:
    """Imported only when a file sets the mode: the decoder brings the label table in."""
    from teleinforeader.tic.decoder import MODES

    return MODES


# Keys (section.key) that accept less than their type allows.
RULES: dict[str, Rule] = {
    "source.type": Text(SOURCE_TYPES),
    "source.mode": Text(_source_modes),
    "source.silence_timeout": Number(float, 0, low_excluded=True),
    "source.profile": Text(_simulator_profiles),
    "database.backend": Text(BACKENDS),
    "database.flush_interval": Number(float, 0, low_excluded=True),
    "database.batch_size": Number(int, 1),
    "database.memory_backlog": Number(int, 1),
    "database.reconnect_delay": Number(float, 0, low_excluded=True),
    "database.reconnect_max_delay": Number(float, 0, low_excluded=True),
    "database.mariadb.port": Number(int, 1, 65535),
    "database.mariadb.connect_timeout": Number(float, 0, low_excluded=True),
    "server.port": Number(int, 1, 65535),
    "server.max_clients": Number(int, 1),
    "server.allow": Array(Network()),
    "server.client_buffer": Number(int, 1),
    "http.port": Number(int, 1, 65535),
    "http.max_clients": Number(int, 1),
    "http.allow": Array(Network()),
    "mqtt.port": Number(int, 1, 65535),
    "mqtt.topic_prefix": TopicPrefix(),
    "mqtt.discovery_prefix": TopicPrefix(),
    "mqtt.qos": Number(int, 0, 2),
    "mqtt.publish": Text(("every_frame", "interval", "on_change")),
    "mqtt.interval": Number(float, 0, low_excluded=True),
    "mqtt.heartbeat": Number(float, 0, low_excluded=True),
    "mqtt.keepalive": Number(int, 5, 65535),
    "mqtt.reconnect_delay": Number(float, 0, low_excluded=True),
    "mqtt.reconnect_max_delay": Number(float, 0, low_excluded=True),
    "daemon.log_level": Text(tuple(LOG_LEVELS)),
}

_RULES_BY_TYPE: dict[Any, Rule] = {
    bool: Boolean(),
    int: Number(int),
    float: Number(float),
    str: Text(),
    tuple[str, ...]: Array(),
}


def rule_for(dotted: str, annotation: Any) -> Rule:
    """The rule of key `dotted` ("server.port") declared with type `annotation`."""
    return RULES.get(dotted) or _RULES_BY_TYPE[annotation]


# --- values as TOML text (error messages and check-config) ---------------------------------

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


# Patterns for errors and check-config only: `re` compiles them on first use, not at every start.
_NEEDS_ESCAPE = r'["\\\x00-\x1f\x7f]'


def _toml_string(text: str) -> str:
    """A TOML basic string: always one line, whatever `text` holds."""
    return '"' + re.sub(_NEEDS_ESCAPE, lambda match: _escape(match.group()), text) + '"'


def _escape(char: str) -> str:
    return _ESCAPES.get(char) or f"\\u{ord(char):04x}"


def _shortened(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """`text`, or its start and its length when it is too long to copy into an error."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def _shown(value: Any) -> str:
    """A value found in a file, as an error shows it: TOML, long strings shortened."""
    if isinstance(value, str) and len(value) > SHOWN_CHARACTERS:
        return f"{_toml_string(value[:SHOWN_CHARACTERS])}... ({len(value)} characters)"
    if isinstance(value, (list, tuple)):
        return (
            "["
            + ", ".join(_shown(item) for item in value[:8])
            + (", ...]" if len(value) > 8 else "]")
        )
    return toml_value(value)


_KIND_NAMES = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    ((list, tuple), "an array"),
    (dict, "a table"),
)


def _kind(value: Any) -> str:
    """What a secret value is, said without saying it."""
    return next((name for types, name in _KIND_NAMES if isinstance(value, types)), "a date or time")


def toml_value(value: Any) -> str:
    """`value` written as TOML, on one line (tables, which never need writing out, as a word)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "a table"
    return value.isoformat()  # TOML dates and times


def _did_you_mean(name: str, known: Sequence[str], show: Callable[[str], str]) -> str:
    import difflib

    # A match needs a similarity ratio of 0.6, out of reach for a name over 2.4 times longer
    # than every candidate: skip the comparison (quadratic in the length) for those.
    if not known or len(name) > 3 * max(len(candidate) for candidate in known):
        return ""
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {show(close[0])}?" if close else ""


# --- reading ---------------------------------------------------------------------------------


def _join(section: str, name: str) -> str:
    return f"{section}.{name}" if section else name


def _location(section: str, key: str) -> str:
    return f"[{section}] {key}" if section else key


def _refused(
    source: str, where: str, expected: str, value: Any, reason: str = "", secret: bool = False
) -> ConfigError:
    if secret:  # its type only: the value may be the password itself, unquoted
        found, reason = f"{_kind(value)} (not shown: a secret)", ""
    else:
        found = _shown(value)
    detail = f" ({_shortened(reason, 2 * SHOWN_CHARACTERS)})" if reason else ""
    return ConfigError(f"{source}: {where}: expected {expected}, found {found}{detail}")


def _unknown(source: str, cls: type, section: str, name: str, value: Any) -> ConfigError:
    name = _shortened(_toml_string(name)[1:-1])  # a quoted key may hold a newline
    hints = _types(cls)
    tables = [key for key, annotation in hints.items() if is_section(annotation)]
    if isinstance(value, dict):
        hint = _did_you_mean(name, tables, lambda t: f"[{_join(section, t)}]")
        known = ", ".join(f"[{_join(section, t)}]" for t in tables)
        hint = hint or ("" if known else f"[{section}] has no subsections")
        where, what = f"[{_join(section, name)}]", "unknown section"
    elif not section:  # a key above every section header
        owners = [t for t in tables if name in _types(hints[t])]
        hint = f"did you mean [{owners[0]}] {name}?" if owners else ""
        known = ", ".join(f"[{t}]" for t in tables)
        where, what = name, "key outside any section"
    else:
        keys = list(hints)
        hint = _did_you_mean(name, keys, str)
        known = ", ".join(keys)
        where, what = _location(section, name), "unknown key"
    return ConfigError(f"{source}: {where}: {what}; " + (hint or f"expected one of {known}"))


def _types(cls: type) -> dict[str, Any]:
    """Key -> type of the section class `cls`."""
    return {setting.name: setting.type for setting in fields(cls)}


def _build(cls: type, table: Mapping[str, Any], section: str, source: str) -> Any:
    """An instance of section class `cls` from the TOML `table` of `section` ("" for the file)."""
    hints = _types(cls)
    for name, value in table.items():
        if name not in hints:
            raise _unknown(source, cls, section, name, value)
    secrets = {setting.name for setting in fields(cls) if is_secret(setting)}
    values: dict[str, Any] = {}
    for name in hints:
        annotation, dotted = hints[name], _join(section, name)
        if is_section(annotation):
            subtable = table.get(name, {})
            if not isinstance(subtable, dict):
                where = _location(section, name)
                raise _refused(source, where, f"a section [{dotted}]", subtable)
            values[name] = _build(annotation, subtable, dotted, source)
        elif name in table:
            rule = rule_for(dotted, annotation)
            values[name] = _parse(rule, table[name], section, name, source, name in secrets)
    built = cls(**values)
    check = SECTION_CHECKS.get(section)
    return check(built, source) if check else built


def _parse(
    rule: Rule, value: Any, section: str, key: str, source: str, secret: bool = False
) -> Any:
    try:
        parsed = rule.parse(value)
    except _RefusedError as refusal:
        where = _location(section, key)
        raise _refused(source, where, rule.expected, value, str(refusal), secret) from None
    if isinstance(rule, Array):
        for index, item in enumerate(parsed):
            _parse(rule.item, item, section, f"{key}[{index}]", source, secret)
    return parsed


# --- checks spanning several keys, or the file system ---------------------------------------


def _unreadable(path: str) -> str:
    """Why the file at `path` cannot be used ("" when it can): see `teleinforeader.files`."""
    try:
        check_regular_file(path)
    except UnreadableFileError as error:
        return str(error)
    return ""


def _check_source(source_settings: SourceSettings, source: str) -> SourceSettings:
    if source_settings.type == "replay":
        expected = 'a readable capture file when type = "replay"'
        path = source_settings.file
        reason = _unreadable(path) if path else ""
        if not path or reason:
            raise _refused(source, "[source] file", expected, path, reason)
    return source_settings


def _check_mariadb(mariadb: MariaDBSettings, source: str) -> MariaDBSettings:
    """TLS files present; the password resolved: environment, then password_file, then password."""
    where = "[database.mariadb]"
    if mariadb.tls:
        _check_tls_files(mariadb, where, source)
    return _resolve_password(mariadb, PASSWORD_ENVIRONMENT_VARIABLE, where, source)


def _check_mqtt(mqtt: MqttSettings, source: str) -> MqttSettings:
    """As for MariaDB: TLS files present, the password resolved the same way."""
    where = "[mqtt]"
    if mqtt.tls:
        _check_tls_files(mqtt, where, source)
    if mqtt.reconnect_max_delay < mqtt.reconnect_delay:
        raise _refused(
            source,
            f"{where} reconnect_max_delay",
            f"at least reconnect_delay ({toml_value(mqtt.reconnect_delay)})",
            mqtt.reconnect_max_delay,
        )
    return _resolve_password(mqtt, MQTT_PASSWORD_ENVIRONMENT_VARIABLE, where, source)


def _check_tls_files(section: Any, where: str, source: str) -> None:
    """`tls_cert` and `tls_key` together, and every `tls_*` file named readable."""
    if bool(section.tls_cert) != bool(section.tls_key):
        missing = "tls_key" if section.tls_cert else "tls_cert"
        raise _refused(source, f"{where} {missing}", "tls_cert and tls_key together", "")
    for key in ("tls_ca", "tls_cert", "tls_key"):
        path = getattr(section, key)
        reason = _unreadable(path) if path else ""
        if reason:
            raise _refused(source, f"{where} {key}", "a readable file", path, reason)


def _resolve_password(section: Any, variable: str, where: str, source: str) -> Any:
    """`section` with its password from, in order: the environment `variable`, the file
    `password_file`, the `password` key; both keys set is a mistake."""
    if section.password and section.password_file:
        raise ConfigError(
            f"{source}: {where} password_file: expected either password or password_file, "
            "found both"
        )
    password = os.environ.get(variable, "")
    if not password and section.password_file:
        password = _read_password(section.password_file, f"{source}: {where} password_file")
    return replace(section, password=password) if password else section


def _read_password(path: str, where: str) -> str:
    try:
        return read_regular_file(path, MAX_PASSWORD_FILE).decode("utf-8").rstrip("\r\n")
    except UnreadableFileError as error:
        reason = str(error)
    except UnicodeDecodeError:
        reason = "not UTF-8 text"
    raise ConfigError(f"{where}: expected a readable file, found {_shown(path)} ({reason})")


SECTION_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "source": _check_source,
    "database.mariadb": _check_mariadb,
    "mqtt": _check_mqtt,
}


# --- the file ----------------------------------------------------------------------------------

_TOML_POSITION = r"^(?P<message>.*) \(at (?P<position>[^()]*)\)$"  # compiled on first use


def _read_toml(path: StrPath) -> dict[str, Any]:
    source = str(path)
    try:
        data = read_regular_file(path, MAX_CONFIG_FILE)
    except UnreadableFileError as error:
        raise ConfigError(f"{source}: cannot read the configuration file: {error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start]
        raise ConfigError(
            f"{source}: line {line}: expected UTF-8 text, found the byte 0x{byte:02x}"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.match(_TOML_POSITION, str(error), re.DOTALL)
        message, position = match.group("message", "position") if match else (str(error), "")
        where = f"{position}: " if position else ""
        raise ConfigError(f"{source}: {where}invalid TOML: {message}") from None


def config_path(path: StrPath | None, default: StrPath = DEFAULT_CONFIG_PATH) -> StrPath | None:
    """The file to read: `path` when given (it must exist), else `default` when it exists,
    else None: a daemon started bare on a Pi with a PiTInfo needs no file at all."""
    if path is not None:
        return path
    return default if os.path.exists(default) else None


def load_settings(path: StrPath | None, *, default_path: StrPath = DEFAULT_CONFIG_PATH) -> Settings:
    """The settings from the file `path` (or the default file, or the defaults: `config_path`);
    raises ConfigError, whose str() is the one line to show."""
    chosen = config_path(path, default_path)
    table = _read_toml(chosen) if chosen is not None else {}
    return _build(Settings, table, "", str(chosen) if chosen is not None else NO_FILE)


def render_settings(settings: Settings) -> str:
    """`settings` as a TOML file that loads back to them, secrets (`settings.secret()` fields)
    shown as MASK."""
    lines: list[str] = []
    _render_section(settings, "", lines)
    return "\n".join(lines) + "\n"


def _render_section(section_settings: Any, section: str, lines: list[str]) -> None:
    tables = []
    if section:
        lines.extend(([""] if lines else []) + [f"[{section}]"])
    for setting in fields(section_settings):
        value = getattr(section_settings, setting.name)
        if is_section(value):
            tables.append((value, _join(section, setting.name)))
        else:
            shown = MASK if value and is_secret(setting) else value
            lines.append(f"{setting.name} = {toml_value(shown)}")
    for table, name in tables:
        _render_section(table, name, lines)
