"""Shared fixtures for the shipping tests: the unit file as systemd reads it, system tools."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.units import read_unit

REPOSITORY = Path(__file__).resolve().parents[2]


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
