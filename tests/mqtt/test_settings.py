"""The [mqtt] section: type-checked like every section, its password from the environment or
a file and never shown, and the sink built only when enabled (paho imported only then)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from teleinforeader.config import MASK, ConfigError, load_settings, render_settings
from teleinforeader.settings import (
    MQTT_PASSWORD_ENVIRONMENT_VARIABLE,
    MqttSettings,
    Settings,
    replace,
)
from teleinforeader.sinks import SinkContext
from teleinforeader.sinks.mqtt import create_sink


@pytest.fixture(autouse=True)
def no_password_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MQTT_PASSWORD_ENVIRONMENT_VARIABLE, raising=False)


def load(tmp_path: Path, text: str) -> MqttSettings:
    path = tmp_path / "teleinforeader.toml"
    path.write_text(text)
    return load_settings(path).mqtt


def test_off_by_default_and_every_key_has_a_default() -> None:
    assert Settings().mqtt == MqttSettings()
    assert not MqttSettings().enabled
    assert "[mqtt]\nenabled = false\n" in render_settings(Settings())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("publish = 'sometimes'", '[mqtt] publish: expected one of "every_frame", "interval"'),
        ("qos = 3", "[mqtt] qos: expected an integer from 0 to 2, found 3"),
        ("port = 0", "[mqtt] port: expected an integer from 1 to 65535"),
        ("topic_prefix = 'home/+/tic'", "[mqtt] topic_prefix: expected a topic prefix"),
        ("discovery_prefix = 'ha/'", "(an empty level)"),
        ("interval = 0", "[mqtt] interval: expected a number greater than 0"),
        ("reconnect_delay = 5\nreconnect_max_delay = 1", "reconnect_max_delay: expected at least"),
        ("tls = true\ntls_ca = '/nonexistent/ca.pem'", "[mqtt] tls_ca: expected a readable file"),
        ("tls = true\ntls_cert = 'FILE'", "[mqtt] tls_key: expected tls_cert and tls_key"),
        ("password = 'a'\npassword_file = 'FILE'", "expected either password or"),
        ("hots = 'nas'", "[mqtt] hots: unknown key; did you mean host?"),
    ],
)
def test_mistakes_are_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "file").write_text("a file\n")
    with pytest.raises(ConfigError) as error:
        load(tmp_path, f"[mqtt]\n{text.replace('FILE', str(tmp_path / 'file'))}\n")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_password_from_the_environment_then_the_file_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text("from the file\n")
    settings = load(tmp_path, f"[mqtt]\nusername = 'pi'\npassword_file = '{secret}'\n")
    assert settings.password == "from the file"
    monkeypatch.setenv(MQTT_PASSWORD_ENVIRONMENT_VARIABLE, "from the environment")
    settings = load(tmp_path, f"[mqtt]\nusername = 'pi'\npassword_file = '{secret}'\n")
    assert settings.password == "from the environment"
    rendered = render_settings(replace(Settings(), mqtt=settings))
    assert "from the" not in rendered and f'password = "{MASK}"' in rendered
    assert "from the" not in repr(settings)


def test_an_unreadable_password_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[mqtt\] password_file: expected a readable file"):
        load(tmp_path, "[mqtt]\npassword_file = '/nonexistent/secret'\n")


def test_the_sink_exists_only_when_enabled(tmp_path: Path) -> None:
    assert create_sink(SinkContext(Settings(), tmp_path)) is None
    enabled = replace(Settings(), mqtt=MqttSettings(enabled=True))
    sink = create_sink(SinkContext(enabled, tmp_path))
    assert sink is not None and sink.name == "mqtt"
    sink.close(0.5)  # never started: releases its sockets


def test_a_missing_extra_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "paho.mqtt.client", None)  # import fails as if absent
    enabled = replace(Settings(), mqtt=MqttSettings(enabled=True))
    with pytest.raises(RuntimeError, match=r"pip install 'teleinforeader\[mqtt\]'"):
        create_sink(SinkContext(enabled, tmp_path))


def test_the_daemon_does_not_import_paho_when_mqtt_is_off(tmp_path: Path) -> None:
    import subprocess

    code = (
        "import sys\n"
        "from teleinforeader.settings import Settings\n"
        "from teleinforeader.sinks import SinkContext, create_sinks\n"
        "from pathlib import Path\n"
        f"sinks = create_sinks(SinkContext(Settings(), Path({str(tmp_path)!r})))\n"
        "[sink.close(0.1) for sink in sinks]\n"
        "print('paho' in ' '.join(sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
