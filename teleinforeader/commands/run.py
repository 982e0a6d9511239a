"""`teleinforeader [run] --config FILE`: run the daemon until SIGTERM or SIGINT; SIGHUP reloads.

SIGHUP (`systemctl reload`) reads the configuration file again first: a broken one is refused
(logged) and the daemon goes on as it was. A good one makes the daemon stop exactly as for
SIGTERM, everything drained to the database or the spool, saying RELOADING=1 to systemd, then
execute itself again with the same arguments (the same PID), which says READY=1 when it runs:
nothing waits in memory across the reload, and every part starts from the new settings.

This module wires the configured parts together (source, guard, database, socket server,
`--print`) and hands them to `teleinforeader.daemon.Daemon`; each part is imported only when the
configuration asks for it, so a Pi Zero does not pay at start-up for what it does not use.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING

from teleinforeader.cli import add_config_arguments, settings_from_args

if TYPE_CHECKING:
    import argparse

    from teleinforeader.sinks import SinkContext
    from teleinforeader.sinks.base import Sink

log = logging.getLogger(__name__)

EX_CANTCREAT = 73  # sysexits.h: the state directory cannot be created, or another daemon has it
RESTART_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument(
        "--print",
        dest="print_frames",
        action="store_true",
        help="also write every frame as one JSON line on stdout (the socket server's format)",
    )


def run(args: argparse.Namespace) -> int:
    from teleinforeader.config import EX_CONFIG
    from teleinforeader.daemon import Daemon
    from teleinforeader.guard import PlausibilityGuard
    from teleinforeader.logs import print_error, setup_logging
    from teleinforeader.notify import Notifier
    from teleinforeader.sources import create_source
    from teleinforeader.statedir import resolve_state_directory

    # A SIGHUP before the file is read asks for what this start does anyway (the package
    # keeps it blocked until the handler below is in place): forget it.
    signal.sigtimedwait({signal.SIGHUP}, 0)
    settings = settings_from_args(args)
    setup_logging(settings.daemon.log_level)
    try:
        source = create_source(settings.source)
    except ValueError as error:
        print_error(str(error))
        return EX_CONFIG
    try:
        state_directory = resolve_state_directory(settings.daemon.state_directory)
    except OSError as error:
        print_error(
            f"cannot create the state directory {error.filename}: {error.strerror} "
            "(set [daemon] state_directory, or STATE_DIRECTORY)"
        )
        return EX_CANTCREAT
    from teleinforeader.statelock import StateLockedError, lock_state_directory

    lock: int | None = None
    try:
        lock = lock_state_directory(state_directory)
    except StateLockedError as error:
        print_error(str(error))
        return EX_CANTCREAT
    except OSError as error:  # a read-only state directory: run on, as the spool does
        log.warning("cannot lock the state directory %s: %s", state_directory, error)
    from teleinforeader.sinks import SinkContext

    context = SinkContext(settings, state_directory)
    try:
        sinks = _create_sinks(context, args.print_frames)
    except (ValueError, RuntimeError) as error:  # RuntimeError: the MariaDB connector is missing
        print_error(str(error))
        return EX_CONFIG
    guard = None
    if settings.guard.enabled:
        guard = PlausibilityGuard(max_power=settings.guard.max_power)
    daemon = Daemon(
        source,
        sinks,
        mode=settings.source.mode,
        guard=guard,
        notifier=Notifier(),
        status_interval=settings.daemon.status_interval,
        accept_reload=functools.partial(_configuration_is_valid, args.config),
    )
    context.pipeline.bind(daemon)

    def stop(signum: int, _: FrameType | None) -> None:
        daemon.request_stop(f"received {signal.Signals(signum).name}")

    def reload(signum: int, _: FrameType | None) -> None:
        # Only a byte to the supervisor's wake channel: a handler that took a lock (started a
        # thread) could deadlock on one the interrupted main thread holds. The file is read later.
        daemon.request_reload("received SIGHUP: reloading the configuration")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})  # one that came waits no more
    log.info("state directory %s", state_directory)
    status = daemon.run()
    if daemon.reloading and status == 0:
        # From here on a signal waits for the new process (the mask outlives exec), which acts
        # on it; one that came during the drain cancelled the reload (`request_stop`).
        signal.pthread_sigmask(signal.SIG_BLOCK, RESTART_SIGNALS)
        if daemon.reloading:
            if lock is not None:
                os.close(lock)  # the new process takes it again
            _execute_again()
    return status


def _configuration_is_valid(path: str | None) -> bool:
    """The file `path` still makes a valid configuration (else logged: the reload is refused)."""
    from teleinforeader.config import ConfigError, load_settings

    try:
        load_settings(path)
    except ConfigError as error:
        log.error("received SIGHUP: reload refused, the running configuration stays: %s", error)
        return False
    return True


def _execute_again() -> None:
    """Replace this process with a new one, same PID, same command line."""
    if sys.argv[0].endswith("__main__.py"):  # python -m teleinforeader
        command = [sys.executable, "-m", "teleinforeader", *sys.argv[1:]]
    else:  # the console script
        command = [sys.executable, *sys.argv]
    log.info("reloading: starting again (%s)", " ".join(command))
    logging.shutdown()
    sys.stdout.flush()
    os.execv(sys.executable, command)


def _create_sinks(context: SinkContext, print_frames: bool) -> list[Sink]:
    """`--print` first, then every sink the settings enable; ValueError or RuntimeError when one
    cannot be built."""
    from teleinforeader.sinks import create_sinks

    sinks: list[Sink] = []
    if print_frames:
        from teleinforeader.sinks.printer import PrinterSink

        sinks.append(PrinterSink(sys.stdout.buffer))
    sinks += create_sinks(context)
    return sinks
