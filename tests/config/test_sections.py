"""The settings' sections behave as the frozen dataclasses they replace: keyword arguments with
defaults, immutable, compared and hashed by value, secrets out of repr()."""

from __future__ import annotations

import pytest

from teleinforeader.settings import (
    DatabaseSettings,
    MariaDBSettings,
    ServerSettings,
    Settings,
    fields,
    is_secret,
    is_section,
    replace,
)


def test_every_key_has_its_default_and_a_given_value_wins() -> None:
    server = ServerSettings(port=1234)
    assert server.port == 1234
    assert server.host == "0.0.0.0"
    assert server.allow == ()
    assert Settings().database.mariadb.database == "teleinfodb"


def test_the_keys_come_in_declaration_order_with_their_types() -> None:
    keys = [(setting.name, setting.type, setting.default) for setting in fields(ServerSettings)]
    assert keys[:3] == [("enabled", bool, True), ("host", str, "0.0.0.0"), ("port", int, 50007)]
    assert ("allow", tuple[str, ...], ()) in keys
    assert fields(ServerSettings()) == fields(ServerSettings)


def test_a_subsection_is_a_section_type() -> None:
    mariadb = next(setting for setting in fields(DatabaseSettings) if setting.name == "mariadb")
    assert mariadb.type is MariaDBSettings
    assert is_section(mariadb.type)
    assert is_section(MariaDBSettings())
    assert not is_section(str)
    assert not is_section("mariadb")


def test_an_unknown_key_is_refused() -> None:
    with pytest.raises(TypeError, match="ServerSettings has no setting 'prot'"):
        ServerSettings(prot=1)


def test_a_section_is_immutable() -> None:
    server = ServerSettings()
    with pytest.raises(AttributeError, match="immutable"):
        server.port = 1  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del server.port
    assert server.port == 50007


def test_sections_are_equal_and_hash_alike_by_value() -> None:
    assert ServerSettings(port=50007) == ServerSettings()
    assert hash(ServerSettings(port=50007)) == hash(ServerSettings())
    assert ServerSettings(port=1) != ServerSettings()
    assert Settings(server=ServerSettings(port=1)) != Settings()
    assert ServerSettings() != ServerSettings  # another class: never equal
    assert len({Settings(), Settings()}) == 1


def test_replace_copies_with_changes_and_leaves_the_original() -> None:
    server = ServerSettings(port=1, host="::")
    moved = replace(server, port=2)
    assert (moved.port, moved.host) == (2, "::")
    assert server.port == 1
    with pytest.raises(TypeError):
        replace(server, prot=2)


def test_repr_shows_every_value_but_the_secrets() -> None:
    mariadb = MariaDBSettings(password="hunter2", user="meter")
    shown = repr(mariadb)
    assert shown.startswith("MariaDBSettings(host='localhost', port=3306, ")
    assert "user='meter'" in shown
    assert "hunter2" not in shown
    assert "hunter2" not in repr(Settings(database=DatabaseSettings(mariadb=mariadb)))
    assert mariadb.password == "hunter2"
    assert [s.name for s in fields(MariaDBSettings) if is_secret(s)] == ["password"]
