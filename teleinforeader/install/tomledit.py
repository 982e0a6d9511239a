"""Reads and changes single keys of a TOML configuration file, keeping everything else as it is.

The installer writes the configuration from the commented example and, on a later run, changes
only the keys an option asks for: the owner's edits and comments must survive, so the file is
edited line by line rather than parsed and written back. It runs with the system's Python before
any virtual environment exists (3.9 has no tomllib), so it understands what the example and a
person editing it write: `[section]` headers and `key = value` lines whose value is a string, a
number, a boolean or a one-line array, with a comment after it or not. Whether the whole file is
valid is for the daemon's own loader to say (`teleinforeader check-config`, which the installer
runs with the new release before it switches to it).
"""

from __future__ import annotations

import json
import re
from typing import Union

Value = Union[str, int, bool]

_SECTION = re.compile(r"^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_-]+)(\s*=\s*)(.*)$")


def render(value: Value) -> str:
    """`value` as TOML: a basic string (JSON's escapes are TOML's), an integer, a boolean."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def split_comment(rest: str) -> tuple[str, str]:
    """A value and what follows it (spaces and a comment): a '#' inside a string is not one."""
    quote = None
    index = 0
    while index < len(rest):
        char = rest[index]
        if quote:
            if char == "\\" and quote == '"':
                index += 1
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            value = rest[:index].rstrip()
            return value, rest[len(value) :]
        index += 1
    value = rest.rstrip()
    return value, rest[len(value) :]


def parse_scalar(text: str) -> Value | None:
    """The value of a TOML string, integer or boolean as this module writes them; None for
    anything else (an array, a float, a literal string with escapes it cannot be sure of)."""
    text = text.strip()
    if text in {"true", "false"}:
        return text == "true"
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, str) else None
    if text.startswith("'") and text.endswith("'") and len(text) >= 2 and "'" not in text[1:-1]:
        return text[1:-1]
    return None


class TomlLines:
    """A TOML file as its lines, with `get` and `set` of `section`.`key` (top-level tables and
    dotted ones such as "database.mariadb"; a key of the file's root is not needed)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def sections(self) -> list[str]:
        return [found[1] for found in map(_SECTION.match, self.lines) if found]

    def get(self, section: str, key: str) -> Value | None:
        """The value of `key` in `section`, when this module can read it; None otherwise."""
        line = self._key_line(section, key)
        if line is None:
            return None
        found = _KEY.match(self.lines[line])
        assert found is not None
        return parse_scalar(split_comment(found[4])[0])

    def set(self, section: str, key: str, value: Value) -> bool:
        """Give `key` of `section` the `value`, adding the key (or the section) when missing;
        True when the file changed."""
        line = self._key_line(section, key)
        if line is not None:
            found = _KEY.match(self.lines[line])
            assert found is not None
            indent, name, equals, rest = found.groups()
            new = f"{indent}{name}{equals}{render(value)}{split_comment(rest)[1]}"
            changed = new != self.lines[line]
            self.lines[line] = new
            return changed
        start, end = self._section_span(section)
        assignment = f"{key} = {render(value)}"
        if start is None:
            if self.lines and self.lines[-1].strip():
                self.lines.append("")
            self.lines += [f"[{section}]", assignment]
            return True
        insert = end
        while insert > start + 1 and not self.lines[insert - 1].strip():
            insert -= 1  # after the section's last line, before the blank lines that follow it
        self.lines.insert(insert, assignment)
        return True

    def _section_span(self, section: str) -> tuple[int | None, int]:
        """The index of `section`'s header and of the first line after its body."""
        start = None
        for index, line in enumerate(self.lines):
            header = _SECTION.match(line)
            if header is None:
                continue
            if start is not None:
                return start, index
            if header[1] == section:
                start = index
        return start, len(self.lines)

    def _key_line(self, section: str, key: str) -> int | None:
        start, end = self._section_span(section)
        if start is None:
            return None
        for index in range(start + 1, end):
            found = _KEY.match(self.lines[index])
            if found and found[2] == key and not self.lines[index].lstrip().startswith("#"):
                return index
        return None
