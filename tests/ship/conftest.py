"""Shared fixtures for the shipping tests: the unit file as systemd reads it, system tools."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


def read_unit(path: Path) -> dict[str, list[str]]:
    """`Section.Key` -> every value it is given, in order (systemd keys may repeat)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw_line in path.read_text(encoding="utf-8").splitlines():
        line = raw_line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings


@pytest.fixture(scope="session")
def unit() -> dict[str, list[str]]:
    return read_unit(REPOSITORY / "config" / "teleinforeader.service")


@pytest.fixture
def system_tool() -> Callable[[str], str]:
    """Finds a system tool, or skips the test saying which one is missing."""

    def find(name: str) -> str:
        path = shutil.which(name)
        if path is None:
            pytest.skip(f"{name} is not installed here (it comes with systemd): nothing to run")
        return path

    return find
