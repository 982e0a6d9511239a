"""README.md's configuration reference against the settings themselves: no key documented that
does not exist, none missing, every default the real one written as the example file writes it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from teleinforeader.config import MASK, render_settings
from teleinforeader.settings import Settings, fields, is_section

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(?P<key>[^`]+)` \| `(?P<default>[^`]*)` \| (?P<meaning>[^|]*\S) \|$")
TABLE_HEADER = ("| Key | Default | Meaning |", "| --- | --- | --- |")


def reference(readme: str) -> list[tuple[str, str, str, str]]:
    """(section, key, default, meaning) for every row of README's "### Every key" tables."""
    configuration = re.search(r"^## Configuration\n(.*?)(?=^## |\Z)", readme, re.M | re.S)
    assert configuration, "README.md has no Configuration section"
    every_key = configuration.group(1).partition("\n### Every key\n")[2]
    assert every_key, "README.md's Configuration section has no 'Every key' reference"
    rows, section = [], ""
    for line in every_key.splitlines():
        heading = re.fullmatch(r"#### \[([\w.]+)\]", line)
        if heading:
            section = heading.group(1)
        elif line.startswith("|") and line not in TABLE_HEADER:
            row = ROW.match(line)
            assert row, f"not a key row: {line}"
            assert section, f"a row before any section heading: {line}"
            rows.append((section, row["key"], row["default"], row["meaning"]))
    return rows


def settings_keys(cls: type = Settings, section: str = "") -> set[tuple[str, str]]:
    """(section, key) for every leaf of the settings sections."""
    keys = set()
    for setting in fields(cls):
        if is_section(setting.type):
            nested = f"{section}.{setting.name}" if section else setting.name
            keys |= settings_keys(setting.type, nested)
        else:
            keys.add((section, setting.name))
    return keys


def rendered_defaults() -> dict[tuple[str, str], str]:
    """(section, key) -> the default as check-config and the example file write it."""
    defaults, section = {}, ""
    for line in render_settings(Settings()).splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif line:
            key, _, value = line.partition(" = ")
            defaults[(section, key)] = value
    return defaults


ROWS = reference(README.read_text(encoding="utf-8"))


def test_documents_exactly_the_settings_keys():
    documented = [(section, key) for section, key, _, _ in ROWS]
    assert len(documented) == len(set(documented)), "a key is documented twice"
    assert set(documented) == settings_keys()


def test_sections_in_the_example_files_order():
    sections = list(dict.fromkeys(section for section, _, _, _ in ROWS))
    assert sections == [
        "source",
        "guard",
        "database",
        "database.mariadb",
        "server",
        "http",
        "mqtt",
        "daemon",
    ]


@pytest.mark.parametrize(("section", "key", "default", "meaning"), ROWS)
def test_default_is_the_real_one(section, key, default, meaning):
    assert default == rendered_defaults()[(section, key)]


def test_password_default_is_empty_never_a_secret():
    (password,) = [row for row in ROWS if row[:2] == ("database.mariadb", "password")]
    assert password[2] == '""'
    assert not any(MASK in default for _, _, default, _ in ROWS)
