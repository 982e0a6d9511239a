"""Single keys of a TOML file changed line by line, everything else (comments, edits) kept."""

from __future__ import annotations

from teleinforeader.install.tomledit import TomlLines, parse_scalar, render, split_comment

EDITED = """# my meter
[source]
device = "/dev/ttyUSB0"   # the adapter in the kitchen
mode = 'historic'

[server]
port = 50007
allow = ["192.168.1.0/24"]
# port = 1 (a comment, not a key)

[database.mariadb]
password_file = "/etc/x # not a comment"
"""


def test_values_are_read_as_written() -> None:
    lines = TomlLines(EDITED)
    assert lines.get("source", "device") == "/dev/ttyUSB0"
    assert lines.get("source", "mode") == "historic"
    assert lines.get("server", "port") == 50007
    assert lines.get("database.mariadb", "password_file") == "/etc/x # not a comment"
    assert lines.get("server", "allow") is None  # an array: not this module's to read
    assert lines.get("server", "host") is None
    assert lines.get("http", "port") is None
    assert lines.sections() == ["source", "server", "database.mariadb"]


def test_a_change_keeps_every_other_line_and_the_comment_after_the_value() -> None:
    lines = TomlLines(EDITED)
    assert lines.set("source", "device", "/dev/serial0")
    assert not lines.set("server", "port", 50007)  # already so: no change
    expected = EDITED.replace('"/dev/ttyUSB0"   #', '"/dev/serial0"   #')
    assert lines.text == expected


def test_a_missing_key_goes_at_the_end_of_its_section_and_a_missing_section_at_the_end() -> None:
    lines = TomlLines(EDITED)
    assert lines.set("server", "host", "127.0.0.1")
    assert lines.set("mqtt", "enabled", True)
    text = lines.text
    assert '# port = 1 (a comment, not a key)\nhost = "127.0.0.1"\n\n[database.mariadb]' in text
    assert text.endswith('password_file = "/etc/x # not a comment"\n\n[mqtt]\nenabled = true\n')
    assert TomlLines(text).get("server", "port") == 50007  # the comment was not taken for a key


def test_strings_are_written_with_toml_escapes() -> None:
    value = 'a "quoted" \\ path'
    assert parse_scalar(render(value)) == value
    assert render(True) == "true" and render(8080) == "8080"
    assert split_comment('"a # b" # c') == ('"a # b"', " # c")
