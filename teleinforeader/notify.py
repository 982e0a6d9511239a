"""The systemd notify protocol (sd_notify), with the standard library only.

A unit with `Type=notify` waits for READY=1 before it counts the service as started, shows the
latest STATUS= in `systemctl status`, and with `WatchdogSec=` restarts a daemon whose WATCHDOG=1
pings stop. Each message is one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET (a name
starting with '@' is in the abstract namespace). Without $NOTIFY_SOCKET every call does nothing,
so the daemon runs the same under a terminal, a container or another init system.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends state changes to the service manager, never failing the daemon if it is gone."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self._address = address
        self._socket: socket.socket | None = None
        self._failed = False
        self.watchdog_interval = _watchdog_interval(environ)

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def send(self, *assignments: str) -> None:
        """Send `KEY=value` assignments in one datagram."""
        if not self._address:
            return
        message = "\n".join(assignments).encode("utf-8", "replace")
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.sendto(message, self._address)
        except OSError as exc:
            if not self._failed:  # once: a manager that went away would flood the log
                log.warning("cannot notify the service manager at %s: %s", self._address, exc)
                self._failed = True

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def watchdog(self, status: str) -> None:
        """A watchdog ping; it carries the status, which costs nothing more."""
        self.send("WATCHDOG=1", f"STATUS={status}")

    def stopping(self, status: str) -> None:
        self.send("STOPPING=1", f"STATUS={status}")

    def reloading(self, status: str) -> None:
        """Reloading: systemd waits for the READY=1 of the new configuration (`systemctl
        reload` returns then); MONOTONIC_USEC tells this reload from an earlier one."""
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send("RELOADING=1", f"MONOTONIC_USEC={now}", f"STATUS={status}")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of $WATCHDOG_USEC), or None when not asked for.

    $WATCHDOG_PID, when set, names the process the watchdog is for: not us, no pings."""
    try:
        usec = int(environ.get("WATCHDOG_USEC", "0"))
        pid = int(environ.get("WATCHDOG_PID", str(os.getpid())))
    except ValueError:
        log.warning("ignoring a malformed WATCHDOG_USEC or WATCHDOG_PID")
        return None
    if usec <= 0 or pid != os.getpid():
        return None
    return usec / 2 / 1_000_000
