"""Shared fixtures of the TIC tests: where the real captures live."""

from __future__ import annotations

from typing import Callable

import pytest

from tests.support.captures import load_capture


@pytest.fixture
def capture() -> Callable[[str], bytes]:
    """Loader of a capture by file name: the project's copy, else the shared folder."""
    return load_capture
