"""Where the daemon keeps its state (the SQLite file, the disk spool).

Its own module so that `teleinforeader db` finds the same directory as the daemon without
importing the daemon (threads, decoder, guard) to do it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def resolve_state_directory(configured: str, environ: Mapping[str, str] | None = None) -> str:
    """The state directory, created if missing: $STATE_DIRECTORY (set by systemd's
    StateDirectory=, first path when there are several) wins over the configured one."""
    environ = os.environ if environ is None else environ
    from_systemd = environ.get("STATE_DIRECTORY", "").split(":")[0]
    directory = from_systemd or configured
    os.makedirs(directory, exist_ok=True)
    return directory
