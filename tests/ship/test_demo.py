"""`make demo`: the commands make would run, run for real in a scratch directory.

`make -n` gives the recipe (without reinstalling anything); the test runs it in a directory
that sees the repository's config/ and this test's virtualenv as .venv, with the port moved to
a free one so that a demo left running elsewhere cannot interfere. Then it is a client: one
JSON line from the socket server, Ctrl-C, a clean exit, frames in SQLite.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
DEMO_PORT = 50007
DEMO_HTTP_PORT = 8080


def make_demo_recipe(profile: str | None) -> list[str]:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed here: there is no `make demo` to run")
    variables = [f"DEMO_PROFILE={profile}"] if profile else []
    result = subprocess.run(
        [make, "-n", "-s", "-o", ".venv/.installed-demo", "demo", *variables],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def first_json_line(port: int, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
                return json.loads(client.makefile("rb").readline())
        except (OSError, json.JSONDecodeError):  # not listening yet, or closed before a line
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def stored_frames(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        tables = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if name.startswith("teleinfoframes")
        ]
        return sum(connection.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables)


@pytest.mark.parametrize(
    ("profile", "mode", "meter_label", "expected"),
    [
        (None, "historic", "ADCO", {"OPTARIF": "BASE"}),
        ("standard-tri", "standard", "ADSC", {"URMS3": None}),
    ],
    ids=["default-historic-base", "standard-tri"],
)
def test_make_demo_serves_frames_and_stops_cleanly_on_ctrl_c(
    tmp_path, profile, mode, meter_label, expected
):
    (tmp_path / "config").symlink_to(REPOSITORY / "config")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    *preparation, run_line = make_demo_recipe(profile)
    assert run_line == ".venv/bin/teleinforeader run --config state/demo.toml"
    for line in preparation:
        subprocess.run(line, shell=True, cwd=tmp_path, check=True, capture_output=True, timeout=30)
    hints = "\n".join(preparation)
    assert "127.0.0.1:50007" in hints
    assert "teleinforeader tail" in hints
    assert f"http://127.0.0.1:{DEMO_HTTP_PORT}/" in hints
    demo_config = tmp_path / "state" / "demo.toml"
    port, http_port = free_port(), free_port()
    text = re.sub(rf"(?m)^port = {DEMO_PORT}$", f"port = {port}", demo_config.read_text())
    demo_config.write_text(re.sub(rf"(?m)^port = {DEMO_HTTP_PORT}$", f"port = {http_port}", text))

    daemon = subprocess.Popen(
        shlex.split(run_line), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        message = first_json_line(port)
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/v1/latest") as answer:
            latest = json.load(answer)
    finally:
        daemon.send_signal(signal.SIGINT)
        _, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err.decode()
    assert message["mode"] == mode
    assert message["frame"][meter_label] == message["meter"]
    for label, value in expected.items():
        assert label in message["frame"]
        assert value is None or message["frame"][label] == value
    assert latest["mode"] == mode and latest["meter"] == message["meter"]
    assert b"received SIGINT" in err
    assert stored_frames(tmp_path / "state" / "teleinforeader.sqlite3") >= 1


def test_demo_config_is_a_simulated_linky_on_this_machine_only():
    from teleinforeader.config import load_settings

    settings = load_settings(REPOSITORY / "config" / "demo.toml")
    assert settings.source.type == "simulator"
    assert settings.source.profile == "historic-base"
    assert settings.source.speed == 1.0  # the real line's pace
    assert settings.database.backend == "sqlite"
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", DEMO_PORT)
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", DEMO_HTTP_PORT)
    assert settings.daemon.state_directory == "state"
