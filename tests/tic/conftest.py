"""Shared fixtures of the TIC tests: where the real captures live."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

# Captures under a permissive licence are copied into the project; the others are read from the
# shared folder next to the repository and never copied (see tests/data/SOURCES.md).
PROJECT_CAPTURES = Path(__file__).resolve().parents[1] / "data"
SHARED_CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "captures"


def _load(name: str) -> bytes:
    local = PROJECT_CAPTURES / name
    if local.exists():
        return local.read_bytes()
    shared = SHARED_CAPTURES / name
    if not SHARED_CAPTURES.is_dir():
        pytest.skip(f"{name} is not redistributable and {SHARED_CAPTURES} is absent")
    return shared.read_bytes()


@pytest.fixture
def capture() -> Callable[[str], bytes]:
    """Loader of a capture by file name: the project's copy, else the shared folder."""
    return _load
