"""README's TeleInfoMonitor section against the code: its mapping table is `MAPPINGS` cell for
cell (one table, printed once), and the settings it tells users to set exist."""

from __future__ import annotations

import re
from pathlib import Path

from teleinforeader.settings import DatabaseSettings, ServerSettings
from teleinforeader.sinks.database.schema import LEGACY_COLUMNS
from teleinforeader.tic.teleinfomonitor import MAPPINGS, SEED_LABELS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def section() -> str:
    found = re.search(r"^## TeleInfoMonitor\n(.*?)(?=^## )", README, re.M | re.S)
    assert found, "README.md has no TeleInfoMonitor section"
    return found.group(1)


def mapping_table() -> list[list[str]]:
    lines = [line for line in section().splitlines() if line.startswith("| label (column) |")]
    assert len(lines) == 1, "one mapping table"
    rows = section().split(lines[0], 1)[1].split("\n\n", 1)[0].strip().splitlines()
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in [lines[0], *rows]]


def test_readme_mapping_table_is_the_code_table() -> None:
    header, rule, *rows = mapping_table()
    kinds = list(MAPPINGS)
    assert header == ["label (column)", *kinds]
    assert set(rule) == {"---"}
    assert rows[0] == ["(`timestamp`)", *["the receive time"] * len(kinds)]
    expected = [
        [f"`{label}` (`{column.name}`)", *(MAPPINGS[kind][label].rule for kind in kinds)]
        for label, column in zip(SEED_LABELS, LEGACY_COLUMNS[1:])
    ]
    assert rows[1:] == expected


def test_the_settings_readme_names_exist() -> None:
    text = section()
    assert "[server] teleinfomonitor = true" in text and "[database] teleinfomonitor = true" in text
    assert ServerSettings().teleinfomonitor is False and DatabaseSettings().teleinfomonitor is False
    assert [column.label for column in LEGACY_COLUMNS[1:]] == list(SEED_LABELS)
