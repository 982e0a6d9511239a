"""teleinforeader: reads a French Enedis meter's TeleInfo stream, stores and broadcasts it."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # The version lives in pyproject.toml only; reading package metadata costs import time,
    # so it is looked up when asked for, not when the daemon starts.
    if name == "__version__":
        from importlib.metadata import version

        return version("teleinforeader")
    raise AttributeError(name)
