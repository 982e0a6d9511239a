"""Fixtures for the configuration tests: a clean environment and the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from teleinforeader.settings import PASSWORD_ENVIRONMENT_VARIABLE

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_password_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A password exported in the developer's shell must not leak into what tests expect."""
    monkeypatch.delenv(PASSWORD_ENVIRONMENT_VARIABLE, raising=False)


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`python -m teleinforeader ARGS` in a real subprocess, with extra environment `env`."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if k != PASSWORD_ENVIRONMENT_VARIABLE}
        environment.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "teleinforeader", *args],
            capture_output=True,
            text=True,
            env=environment,
            timeout=60,
            check=False,
        )

    return run
