"""The service as a Pi owner gets it: installed by the one command in a booted Debian, run by its
real systemd, fed by a meter on a pty linked as /dev/serial0 (root:dialout 0660).

The tests run in order, each on what the one before left (`make test-live` stops at the first
failure): install from a checkout; frames stored and served; a clean journal; a second run that
changes nothing; a start, and a boot, without the device; the watchdog; SIGKILL; a reload; the
state directory's lock; a configuration error (exit 78); a serial driver loaded after the start;
an upgrade from a newer sdist that keeps the data and the edited configuration; MQTT to a
broker; a second meter as teleinforeader@garage, with a local MariaDB; a meter offered probe;
uninstalling one meter, then everything, then the data too. The socket server, the web page
and MQTT are reached from the host: the container shares its network.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live.machine import (
    CHECKOUT,
    Machine,
    build_sdist,
    served_frames,
)
from tests.support.mosquitto import MosquittoBroker, Recorder
from tests.support.server_process import free_port
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.live, pytest.mark.timeout(1800)]

ERR = 3  # syslog priority
UNIT = "teleinforeader.service"
CONFIG = "/etc/teleinforeader/teleinforeader.toml"
STATE = "/var/lib/teleinforeader"
SERIAL0 = "/dev/serial0"
METER = "021728000001"
GARAGE = "teleinforeader@garage.service"
GARAGE_CONFIG = "/etc/teleinforeader/teleinforeader@garage.toml"
GARAGE_DEVICE = "/dev/serial/by-id/usb-Cartelectronic_TIC-if00-port0"
GARAGE_METER = "021728000002"
UPGRADE_VERSION_SUFFIX = ".post1"
MQTT_PASSWORD = "live-broker-secret"
REFUSALS = re.compile(r"EPERM|EACCES|Operation not permitted|Permission denied|not permitted")
# The newest source installed: after the upgrade, the sdist's directory (installing the older
# checkout again would be a downgrade, which the installer refuses).
newest = {"source": CHECKOUT}


def port_of(machine: Machine, config: str, section: str = "server") -> int:
    text = machine.config(config)
    found = re.search(rf"^\[{section}\]\n(?:(?!\[).*\n)*?port = (\d+)", text, re.M)
    assert found, f"no [{section}] port in {config}"
    return int(found[1])


WITHOUT_BYTE_CODE = """
import importlib.util, pathlib, teleinforeader
root = pathlib.Path(teleinforeader.__file__).parent
for module in sorted(root.rglob("*.py")):
    if not pathlib.Path(importlib.util.cache_from_source(str(module))).is_file():
        print(module)
"""


def web_page(port: int, path: str = "/") -> tuple[int, str]:
    """The web server's answer (the container shares the host's network)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        return response.status, response.read().decode()


def test_the_one_command_installs_and_starts_it_from_a_checkout(machine: Machine) -> None:
    machine.copy_checkout()
    machine.start_meter(SERIAL0, METER)
    assert machine.sh(f"stat -L -c '%U:%G %a' {SERIAL0}").strip() == "root:dialout 660"
    report = machine.installer("--yes")
    assert "+ user teleinforeader, member of dialout" in report
    assert f"configuration {CONFIG}: device {SERIAL0} (found)" in report
    assert f"+ state directory {STATE}" in report
    assert "schema version" in report
    assert f"{UNIT} is active (running)" in report
    assert "Check it:" in report and "systemctl status teleinforeader" in report
    machine.running(UNIT)
    assert machine.run("systemctl", "is-enabled", UNIT).stdout.strip() == "enabled"
    assert machine.sh("id -nG teleinforeader").split() == ["teleinforeader", "dialout"]
    # Every module has its byte-code for the release's own Python: the service, which may not
    # write there, never compiles the package at start-up.
    missing = machine.run("/opt/teleinforeader/venv/bin/python", "-c", WITHOUT_BYTE_CODE).stdout
    assert missing.strip() == "", f"modules without byte-code: {missing}"


def test_frames_are_stored_and_served_as_json_lines(machine: Machine) -> None:
    rows = machine.wait_rows(STATE, more_than=5)
    assert {meter for _, meter in rows} == {METER}
    indexes = [index for index, _ in rows]
    assert indexes == sorted(indexes)
    lines = served_frames(port_of(machine, CONFIG), count=3)
    assert {line["meter"] for line in lines} == {METER}
    assert all(line["frame"]["OPTARIF"] == "BASE" for line in lines)
    status, page = web_page(port_of(machine, CONFIG, "http"))
    assert status == 200 and "<html" in page.lower()
    status, health = web_page(port_of(machine, CONFIG, "http"), "/healthz")
    assert status == 200, health


def test_the_sandbox_refuses_it_nothing_it_needs(machine: Machine) -> None:
    journal = machine.journal(UNIT)
    assert not REFUSALS.search(journal), journal
    assert machine.journal(UNIT, priority=ERR) == ""
    exposure = machine.run("systemd-analyze", "security", UNIT, check=False).stdout
    print(exposure.strip().splitlines()[-1])
    assert re.search(r"Overall exposure level for \S+: (0\.\d|1\.[0-5]) ", exposure)


def test_running_it_again_changes_nothing(machine: Machine) -> None:
    before = machine.unit(UNIT)
    config = machine.config(CONFIG)
    report = machine.installer("--yes")
    changes = [line for line in report.splitlines() if line.startswith("  + ")]
    assert changes == [f"  + {UNIT} is active (running): " + changes[-1].split(": ", 1)[1]]
    assert f"= {UNIT} running, nothing changed" in report
    assert machine.config(CONFIG) == config
    assert machine.unit(UNIT)["MainPID"] == before["MainPID"]  # not even restarted


def test_it_starts_ready_without_its_device_and_reads_it_when_it_comes(machine: Machine) -> None:
    machine.run("systemctl", "stop", UNIT)
    machine.stop_meter(SERIAL0)
    assert machine.run("test", "-e", SERIAL0, check=False).returncode != 0
    # Without READY=1 the start job would wait for the start timeout (90 s), then fail.
    machine.run("systemctl", "start", UNIT, timeout=300)
    state = machine.running(UNIT)
    assert state["StatusText"].startswith(f"waiting for {SERIAL0}")
    state = machine.wait_unit(
        UNIT, lambda s: "(No such file or directory)" in s["StatusText"], "the reason shown"
    )
    shown = machine.run("systemctl", "status", "--no-pager", UNIT, check=False).stdout
    assert f'Status: "waiting for {SERIAL0} (No such file or directory)' in shown
    print(shown.splitlines()[2:6])
    count = len(machine.sqlite_rows(STATE))
    machine.start_meter(SERIAL0, METER)
    machine.wait_unit(UNIT, lambda s: not s["StatusText"].startswith("waiting"), "reading")
    machine.wait_rows(STATE, more_than=count)


def test_the_boot_does_not_wait_for_a_missing_device(machine: Machine) -> None:
    machine.stop_meter(SERIAL0)
    machine.container.reboot()
    # The boot is over (running, not starting): the unit did not hold multi-user.target back.
    assert machine.run("systemctl", "is-system-running").stdout.strip() == "running"
    state = machine.running(UNIT)
    assert state["StatusText"].startswith(f"waiting for {SERIAL0}")
    jobs = machine.run("systemctl", "list-jobs", "--no-legend").stdout
    assert jobs.strip() == ""
    machine.start_meter(SERIAL0, METER)
    machine.wait_unit(UNIT, lambda s: not s["StatusText"].startswith("waiting"), "reading")


def test_the_watchdog_restarts_a_hung_daemon(machine: Machine) -> None:
    machine.drop_in(UNIT, "live-watchdog", "WatchdogSec=5")  # the unit's 60 s, shortened
    before = machine.restart_and_wait(UNIT)
    cursor = machine.cursor()
    machine.signal(before["MainPID"], "STOP")
    journal = machine.wait_journal(UNIT, "Watchdog timeout", cursor)
    after = machine.wait_unit(
        UNIT,
        lambda s: s["MainPID"] not in {"0", before["MainPID"]} and s["SubState"] == "running",
        "running again in a new process",
    )
    assert int(after["NRestarts"]) == int(before["NRestarts"]) + 1
    print(next(line for line in journal.splitlines() if "Watchdog timeout" in line))
    machine.drop_in(UNIT, "live-watchdog", None)
    machine.restart_and_wait(UNIT)


def test_sigkill_is_restarted_and_frames_flow_again(machine: Machine) -> None:
    before = machine.running(UNIT)
    count = len(machine.sqlite_rows(STATE))
    machine.signal(before["MainPID"], "KILL")
    after = machine.wait_unit(
        UNIT,
        lambda s: s["MainPID"] not in {"0", before["MainPID"]} and s["SubState"] == "running",
        "running again",
    )
    assert int(after["NRestarts"]) == int(before["NRestarts"]) + 1
    machine.wait_rows(STATE, more_than=count)


def test_reload_takes_the_edited_configuration_in_the_same_process(machine: Machine) -> None:
    good = machine.config(CONFIG)
    before = machine.running(UNIT)
    cursor = machine.cursor()
    machine.set_config(CONFIG, good.replace("status_interval = 300.0", "status_interval = 2.0"))
    machine.run("systemctl", "reload", UNIT)
    machine.wait_journal(UNIT, "reloading: starting again", cursor)
    machine.wait_journal(UNIT, "summary: frames=", cursor)  # the new setting, in force
    after = machine.running(UNIT)
    assert after["MainPID"] == before["MainPID"]  # the same process, started again in place
    assert after["NRestarts"] == before["NRestarts"]
    cursor = machine.cursor()
    machine.set_config(CONFIG, good + "\n[serveur]\n")  # a broken file is refused
    machine.run("systemctl", "reload", UNIT)
    refused = machine.wait_journal(UNIT, "reload refused, the running configuration stays", cursor)
    print(next(line for line in refused.splitlines() if "reload refused" in line))
    assert machine.running(UNIT)["MainPID"] == before["MainPID"]
    machine.set_config(CONFIG, good)
    machine.run("systemctl", "reload", UNIT)
    count = len(machine.sqlite_rows(STATE))
    machine.wait_rows(STATE, more_than=count)


def test_a_second_daemon_on_the_same_state_directory_is_refused(machine: Machine) -> None:
    service = machine.running(UNIT)
    second = machine.run(
        "runuser",
        "-u",
        "teleinforeader",
        "--",
        "/opt/teleinforeader/venv/bin/teleinforeader",
        "run",
        "--config",
        CONFIG,
        check=False,
    )
    print(second.stderr.strip().splitlines()[-1])
    assert second.returncode == 73
    assert f"{STATE} is in use by process {service['MainPID']}" in second.stderr


def test_a_configuration_error_exits_78_is_not_restarted_and_is_an_error_in_the_journal(
    machine: Machine,
) -> None:
    good = machine.config(CONFIG)
    machine.set_config(CONFIG, good + "\n[serveur]\nport = 1\n")
    cursor = machine.cursor()
    machine.run("systemctl", "restart", UNIT, check=False)
    failed = machine.wait_unit(UNIT, lambda s: s["ActiveState"] == "failed", "failed")
    assert failed["ExecMainStatus"] == "78"
    restarts = failed["NRestarts"]
    # RestartSec=5: a restart would have come by now.
    machine.run("sleep", "8")
    assert machine.unit(UNIT)["ActiveState"] == "failed"
    assert machine.unit(UNIT)["NRestarts"] == restarts
    errors = machine.journal(UNIT, after=cursor, priority=ERR)
    assert f"{CONFIG}: [serveur]: unknown section; did you mean [server]?" in errors
    machine.set_config(CONFIG, good)
    machine.restart_and_wait(UNIT)


HIDE_PTS = "grep -v ' pts$' /proc/devices > /run/devices-without-pts; mount --bind "
HIDE_PTS += "/run/devices-without-pts /proc/devices"
# The pty stands for a USB adapter whose driver loads after the service started: under
# DevicePolicy=strict (closed allows ptys whatever /proc/devices says), DeviceAllow=char-pts is
# resolved through /proc/devices at the unit's start, which lists no pts while it is hidden.
LATE_DRIVER = (
    "DevicePolicy=strict\nDeviceAllow=/dev/null rw\nDeviceAllow=/dev/urandom r\n"
    "DeviceAllow=char-pts rw"
)


def test_a_serial_driver_loaded_after_the_start_gets_through_by_itself(machine: Machine) -> None:
    machine.drop_in(UNIT, "live-late-driver", LATE_DRIVER)
    machine.run("systemctl", "stop", UNIT)
    machine.sh(HIDE_PTS)
    try:
        cursor = machine.cursor()
        before = machine.unit(UNIT)
        machine.run("systemctl", "start", UNIT)
        journal = machine.wait_journal(UNIT, "exiting with status 75", cursor)
    finally:
        machine.run("umount", "/proc/devices")  # the driver is loaded now
    assert "is not permitted by the service's device policy" in journal
    assert "restarting the service" in journal
    after = machine.wait_unit(
        UNIT, lambda s: int(s["NRestarts"]) > int(before["NRestarts"]), "restarted by systemd"
    )
    machine.wait_unit(UNIT, lambda s: not s["StatusText"].startswith("waiting"), "reading")
    print(next(line for line in journal.splitlines() if "device policy" in line))
    assert int(after["NRestarts"]) == int(before["NRestarts"]) + 1


def test_a_device_the_unit_never_allows_is_named_with_the_fix_and_not_restarted_again(
    machine: Machine,
) -> None:
    machine.run("systemctl", "stop", UNIT)
    machine.sh(HIDE_PTS)
    try:
        cursor = machine.cursor()
        machine.run("systemctl", "start", UNIT)
        journal = machine.wait_journal(UNIT, "still not permitted after a restart", cursor)
        state = machine.running(UNIT)
        machine.run("sleep", "8")  # RestartSec=5: no second restart comes
        assert machine.unit(UNIT)["NRestarts"] == state["NRestarts"]
        assert machine.unit(UNIT)["StatusText"].startswith(
            f"waiting for {SERIAL0} (Operation not permitted)"
        )
    finally:
        machine.run("umount", "/proc/devices")
    line = next(line for line in journal.splitlines() if "still not permitted" in line)
    print(line)
    assert "DeviceAllow=char-pts rw" in line
    assert "sudo systemctl edit teleinforeader" in line
    machine.drop_in(UNIT, "live-late-driver", None)
    machine.restart_and_wait(UNIT)
    machine.wait_unit(UNIT, lambda s: not s["StatusText"].startswith("waiting"), "reading")


def test_an_upgrade_from_a_newer_sdist_keeps_the_data_and_the_edited_configuration(
    machine: Machine, tmp_path: Path
) -> None:
    edited = machine.config(CONFIG).replace('mode = "auto"', 'mode = "historic"')
    assert edited != machine.config(CONFIG)
    machine.set_config(CONFIG, edited)
    machine.restart_and_wait(UNIT)
    old_version = machine.teleinforeader("--version").split()[-1]
    stored = machine.wait_rows(STATE, more_than=0)
    new_version = old_version + UPGRADE_VERSION_SUFFIX
    directory = machine.unpack_sdist(build_sdist(new_version, tmp_path))
    report = machine.installer("--yes", source=directory)
    newest["source"] = directory
    assert f"upgrading {old_version} to {new_version}" in report
    assert "= configuration /etc/teleinforeader/teleinforeader.toml, as you left it" in report
    assert machine.config(CONFIG) == edited
    assert machine.teleinforeader("--version").split()[-1] == new_version
    machine.running(UNIT)
    rows = machine.wait_rows(STATE, more_than=len(stored))
    assert rows[: len(stored)] == stored  # every frame stored before is still there
    releases = machine.sh("ls /opt/teleinforeader/releases").split()
    assert len(releases) == 2  # the one in service, and the one before to go back to


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """A broker on the host, with an account: the container shares the host's network."""
    server = MosquittoBroker(tmp_path_factory.mktemp("broker"), users={"live": MQTT_PASSWORD})
    server.start()
    yield server
    server.stop()


def test_home_assistant_hears_the_meter_over_mqtt_from_inside_the_sandbox(
    machine: Machine, broker: MosquittoBroker
) -> None:
    recorder = Recorder(broker, username="live", password=MQTT_PASSWORD)
    cursor = machine.cursor()
    try:
        report = machine.installer(
            "--mqtt",
            f"{broker.host}:{broker.port}",
            "--mqtt-user",
            "live",
            "--yes",
            source=newest["source"],
            stdin=MQTT_PASSWORD + "\n",  # as `... < password-file` gives it: never an argument
        )
        assert "[mqtt] enabled = true (was false)" in report
        assert MQTT_PASSWORD not in report + machine.config(CONFIG)
        machine.running(UNIT)
        state_topic = f"teleinforeader/{METER}/state"
        wait_for(lambda: recorder.last(state_topic), 60, state_topic, interval=0.5)
        discovery = recorder.matching(lambda topic: topic.startswith("homeassistant/"))
        assert discovery, "no Home Assistant discovery config"
        assert recorder.last(f"teleinforeader/{METER}/availability").payload == b"online"
    finally:
        recorder.close()
    assert not REFUSALS.search(machine.journal(UNIT, after=cursor))


def test_a_second_meter_is_a_template_instance_with_files_and_ports_of_its_own(
    machine: Machine,
) -> None:
    machine.start_meter(GARAGE_DEVICE, GARAGE_METER)
    refused = machine.installer("--instance", "garage", "--yes", check=False)
    assert "older than the" in refused and "--downgrade" in refused
    report = machine.installer("--instance", "garage", "--yes", source=newest["source"])
    assert f"configuration {GARAGE_CONFIG}: device {GARAGE_DEVICE} (found)" in report
    machine.running(GARAGE)
    machine.running(UNIT)
    ports = {port_of(machine, CONFIG), port_of(machine, GARAGE_CONFIG)}
    assert len(ports) == 2
    garage_rows = machine.wait_rows("/var/lib/teleinforeader@garage", more_than=3)
    assert {meter for _, meter in garage_rows} == {GARAGE_METER}
    assert {meter for _, meter in machine.sqlite_rows(STATE)} == {METER}
    served = {port: {line["meter"] for line in served_frames(port)} for port in sorted(ports)}
    assert sorted(served.values(), key=sorted) == [{METER}, {GARAGE_METER}]
    web_ports = {port_of(machine, CONFIG, "http"), port_of(machine, GARAGE_CONFIG, "http")}
    assert len(web_ports) == 2
    for port in web_ports:
        assert web_page(port, "/healthz")[0] == 200


def test_a_meter_that_sends_nothing_yet_is_offered_probe(machine: Machine) -> None:
    report = machine.installer(
        "--instance", "spare", "--device", "/dev/ttyUSB9", "--yes", source=newest["source"]
    )
    assert "teleinforeader@spare.service is active (running): waiting for /dev/ttyUSB9" in report
    assert "! no frame from /dev/ttyUSB9 yet" in report
    probe = next(line.strip() for line in report.splitlines() if " probe --config " in line)
    assert probe.startswith("sudo systemctl stop teleinforeader@spare;")
    said = machine.run(
        "runuser",
        "-u",
        "teleinforeader",
        "--",
        "/opt/teleinforeader/venv/bin/teleinforeader",
        "probe",
        "--config",
        "/etc/teleinforeader/teleinforeader@spare.toml",
        "--duration",
        "2",
        check=False,
    )
    print(said.stdout + said.stderr)
    assert said.returncode != 0 and "/dev/ttyUSB9" in said.stdout + said.stderr
    # At a terminal (script(1) gives it one) the installer asks, and runs probe when told to.
    asked = machine.run(
        "script",
        "--quiet",
        "--return",
        "--command",
        f"cd {newest['source']} && python3 -m teleinforeader.install --instance spare",
        "/dev/null",
        stdin="y\n",
    ).stdout
    print(asked)
    assert "Stop teleinforeader@spare.service and run `teleinforeader probe`" in asked
    assert "/dev/ttyUSB9 does not exist" in asked  # probe's own advice
    machine.running("teleinforeader@spare.service")  # started again after probe
    machine.installer("uninstall", "--instance", "spare", "--purge", source=newest["source"])
    assert (
        machine.run(
            "test", "-e", "/etc/teleinforeader/teleinforeader@spare.toml", check=False
        ).returncode
        != 0
    )


def test_the_second_meter_moves_to_a_local_mariadb_set_up_by_the_installer(
    machine: Machine,
) -> None:
    # The container shares the host's network: its MariaDB listens on a port free there (the
    # daemon itself goes through the unix socket).
    machine.set_config(
        "/etc/mysql/mariadb.conf.d/99-live-test.cnf", f"[mysqld]\nport = {free_port()}\n"
    )
    report = machine.installer(
        "--instance", "garage", "--local-mariadb", "--yes", source=newest["source"]
    )
    assert "MariaDB database 'teleinfodb' and user 'teleinfo', with a new password" in report
    assert '[database] backend = "mariadb" (was "sqlite")' in report
    machine.running(GARAGE)
    mode = machine.sh("stat -c '%U:%G %a' /etc/teleinforeader/db-password").strip()
    assert mode == "root:teleinforeader 640"
    password = machine.sh("cat /etc/teleinforeader/db-password").strip()
    assert password not in machine.config(GARAGE_CONFIG)
    assert password not in report

    def stored() -> int:
        count = machine.run(
            "mariadb",
            "--batch",
            "--skip-column-names",
            "-e",
            "SELECT COUNT(*) FROM teleinfodb.teleinfoframes "
            f"WHERE meter_identifier = '{GARAGE_METER}'",
        ).stdout
        return int(count)

    wait_for(lambda: stored() > 3, 60, "garage frames in MariaDB", interval=0.5)
    assert not REFUSALS.search(machine.journal(GARAGE))


def test_uninstalling_one_meter_then_everything_keeps_the_data_until_purge(
    machine: Machine,
) -> None:
    report = machine.installer("uninstall", "--instance", "garage", source=newest["source"])
    assert f"- stopped {GARAGE}" in report
    assert machine.unit(GARAGE)["ActiveState"] == "inactive"
    machine.running(UNIT)
    kept = len(machine.sqlite_rows(STATE))

    report = machine.installer("uninstall", source=newest["source"])
    assert "- /opt/teleinforeader (program)" in report
    assert machine.run("test", "-e", "/opt/teleinforeader", check=False).returncode != 0
    assert machine.run("systemctl", "cat", UNIT, check=False).returncode != 0
    assert len(machine.sqlite_rows(STATE)) >= kept  # the data and the configuration stay
    assert machine.run("test", "-f", CONFIG).returncode == 0

    report = machine.installer("--yes", source=newest["source"])  # again: it takes them up
    machine.running(UNIT)
    assert f"= configuration {CONFIG}, as you left it" in report
    machine.wait_rows(STATE, more_than=kept)

    report = machine.installer("uninstall", "--purge", source=newest["source"])
    assert "MariaDB database 'teleinfodb' and user 'teleinfo'" in report
    for gone in ("/opt/teleinforeader", "/etc/teleinforeader", STATE):
        assert machine.run("test", "-e", gone, check=False).returncode != 0, gone
    assert machine.run("id", "teleinforeader", check=False).returncode != 0
    databases = machine.run("mariadb", "--batch", "-e", "SHOW DATABASES").stdout.split()
    assert "teleinfodb" not in databases
    assert CHECKOUT  # the checkout itself is the user's: left alone
