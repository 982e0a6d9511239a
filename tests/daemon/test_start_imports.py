"""What the daemon imports before it says READY=1: only what it uses. Every module is start-up
time on a Pi Zero (about 20 times this machine's), so the modules that a start as installed
(serial line, SQLite, the socket and web servers) has no use for must stay out. Read from the
real process's `-X importtime` report, which lists every module as it is imported."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.daemon.daemon_helpers import NotifySocket
from tests.faults.fault_helpers import daemon_environment
from tests.support.server_process import free_port

# Modules a start has no use for, and what brought each in before.
NOT_AT_START = {
    "dataclasses": "the settings' frozen dataclasses",
    "inspect": "dataclasses",
    "ast": "dataclasses, via inspect",
    "dis": "dataclasses, via inspect",
    "argparse": "the command line (the unit's is read without it)",
    "importlib.metadata": "the version",
    "email": "importlib.metadata",
    "pathlib": "paths (the state directory, the spool, the configuration file)",
    "urllib.parse": "pathlib, and the web server's request parsing",
    "ipaddress": "urllib.parse, and an empty allow list",
    "encodings.idna": "getaddrinfo with the listening host as str",
    "http": "the web server's statuses (http.HTTPStatus)",
    "tic.teleinfomonitor": "the database schema, with [database] teleinfomonitor off",
}


@pytest.fixture(scope="module")
def silent_line() -> Iterator[str]:
    """A serial device on which no meter speaks (the master end never writes)."""
    master, slave = os.openpty()
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


def imported_modules(report: str) -> list[str]:
    """Module names of an `-X importtime` report, in import order."""
    return [
        line.rsplit("|", 1)[1].strip()
        for line in report.splitlines()
        if line.startswith("import time:") and not line.endswith("imported package")
    ]


@pytest.fixture(scope="module")
def start_modules(tmp_path_factory: pytest.TempPathFactory, silent_line: str) -> list[str]:
    """The modules a start as installed imports before READY=1, in import order."""
    directory = tmp_path_factory.mktemp("start")
    config = directory / "teleinforeader.toml"
    config.write_text(
        f'[source]\ntype = "serial"\ndevice = "{silent_line}"\n'
        f'[database]\nbackend = "sqlite"\n'
        f'[server]\nhost = "127.0.0.1"\nport = {free_port()}\n'
        f'[http]\nhost = "127.0.0.1"\nport = {free_port()}\n'
        f'[daemon]\nstate_directory = "{directory / "state"}"\n'
    )
    notify = NotifySocket(directory / "notify")
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "teleinforeader", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=daemon_environment(**notify.environ()),
    )
    try:
        notify.receive_until("READY", timeout=30)
        process.send_signal(signal.SIGTERM)
        _, report = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        notify.close()
    assert process.returncode == 0, report[-2000:]
    modules = imported_modules(report.split("ready: the sinks run")[0])
    assert "teleinforeader.sinks.http.sink" in modules  # the report is the whole start
    assert "sqlite3" in modules
    return modules


def test_the_daemon_starts_without_the_modules_it_has_no_use_for(start_modules: list[str]) -> None:
    unwanted = {
        name: why
        for name, why in NOT_AT_START.items()
        if name in start_modules or f"teleinforeader.{name}" in start_modules
    }
    assert unwanted == {}, f"imported before READY=1 (module: what brought it in): {unwanted}"


def test_the_daemon_s_start_defines_no_namedtuple(start_modules: list[str]) -> None:
    """Each namedtuple class compiles the source of its `__new__` (`typing.NamedTuple` goes
    through `collections.namedtuple`): the package's records are `Record`s instead."""
    namedtuples = {}
    for name in start_modules:
        if name.startswith("teleinforeader"):
            module = importlib.import_module(name)
            classes = [
                thing.__name__
                for thing in vars(module).values()
                if isinstance(thing, type)
                and issubclass(thing, tuple)
                and hasattr(thing, "_make")
                and thing.__module__ == name
            ]
            if classes:
                namedtuples[name] = classes
    assert "teleinforeader.tic.groups" in start_modules
    assert namedtuples == {}, f"namedtuple classes defined before READY=1: {namedtuples}"
