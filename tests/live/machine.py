"""What the live test asks of the booted container: the installer, systemd's view of a unit, the
journal, the stored rows, the meters on ptys, the frames served on the network."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile
from pathlib import Path

from tests.live.container import Container
from tests.support.packaging import pep517_build
from tests.support.waiting import wait_for

REPOSITORY = Path(__file__).resolve().parents[2]
CHECKOUT = "/root/teleinforeader"  # the checkout, copied in
POLL = 0.5  # seconds between two looks inside the container


class Machine:
    def __init__(self, container: Container) -> None:
        self.container = container
        self.run = container.run
        self.sh = container.sh

    # -- the project, inside ---------------------------------------------------------------

    def copy_checkout(self) -> None:
        copy_working_tree(self.container.path(CHECKOUT))

    def unpack_sdist(self, sdist: Path) -> str:
        """The sdist unpacked in /root; its directory inside the container."""
        with tarfile.open(sdist) as archive:
            archive.extractall(self.container.path("/root"))
        return f"/root/{sdist.name.removesuffix('.tar.gz')}"

    def installer(
        self, *arguments: str, source: str = CHECKOUT, check: bool = True, stdin: str = ""
    ) -> str:
        """`python3 -m teleinforeader.install ARGS` run from `source`, as the README says;
        its report is printed (it is the live test's output) and returned."""
        result = self.run(
            "sh",
            "-c",
            f'cd {source} && exec python3 -m teleinforeader.install "$@"',
            "installer",
            *arguments,
            check=False,
            stdin=stdin,
        )
        print(f"\n$ sudo python3 -m teleinforeader.install {' '.join(arguments)}")
        print(result.stdout + result.stderr)
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr

    def teleinforeader(self, *arguments: str) -> str:
        return self.run("/opt/teleinforeader/venv/bin/teleinforeader", *arguments).stdout

    # -- systemd ---------------------------------------------------------------------------

    def unit(self, unit: str) -> dict[str, str]:
        names = "ActiveState,SubState,MainPID,NRestarts,StatusText,ExecMainStatus,Result"
        shown = self.run("systemctl", "show", f"--property={names}", unit).stdout
        return dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)

    def wait_unit(self, unit: str, condition, what: str, timeout: float = 60.0) -> dict[str, str]:
        found: list[dict[str, str]] = []

        def met() -> bool:
            found[:] = [self.unit(unit)]
            return bool(condition(found[0]))

        wait_for(met, timeout, f"{unit}: {what}; last {found}", interval=POLL)
        return found[0]

    def running(self, unit: str) -> dict[str, str]:
        return self.wait_unit(
            unit, lambda s: (s["ActiveState"], s["SubState"]) == ("active", "running"), "running"
        )

    def cursor(self) -> str:
        shown = self.run("journalctl", "--lines=0", "--show-cursor", "--no-pager").stdout
        return shown.strip().rsplit("cursor: ", 1)[-1]

    def journal(self, unit: str, after: str | None = None, priority: int = 7) -> str:
        """The messages of `unit` (after the `after` cursor) at `priority` or more urgent
        (3 = err). The priority is filtered here: journalctl 252 drops records when --priority
        and --after-cursor are given together."""
        command = ["journalctl", f"--unit={unit}", "--no-pager", "--output=json"]
        if after:
            command.append(f"--after-cursor={after}")
        records = [json.loads(line) for line in self.run(*command).stdout.splitlines()]
        return "".join(
            f"{record['MESSAGE']}\n"
            for record in records
            if isinstance(record.get("MESSAGE"), str) and int(record.get("PRIORITY", 6)) <= priority
        )

    def wait_journal(self, unit: str, text: str, after: str, timeout: float = 60.0) -> str:
        wait_for(
            lambda: text in self.journal(unit, after),
            timeout,
            f"{text!r} in the journal of {unit}",
            interval=POLL,
        )
        return self.journal(unit, after)

    def restart_and_wait(self, unit: str) -> dict[str, str]:
        self.run("systemctl", "restart", unit)
        return self.running(unit)

    def signal(self, pid: str, name: str) -> None:
        """`kill -NAME PID` (the shell's: a minimal Debian has no kill program)."""
        self.run("sh", "-c", f'kill -{name} "$1"', "kill", pid)

    def drop_in(self, unit: str, name: str, text: str | None) -> None:
        """A drop-in of the test's own for `unit` (None removes it), systemd reloaded."""
        path = self.container.path(f"/etc/systemd/system/{unit}.d/{name}.conf")
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"[Service]\n{text}\n")
        self.run("systemctl", "daemon-reload")

    # -- the data --------------------------------------------------------------------------

    def sqlite_rows(self, state_directory: str) -> list[tuple[int, str]]:
        """(BASE index, meter) of every frame stored in the SQLite file of a state directory."""
        query = (
            "import json, sqlite3, sys; db = sqlite3.connect(sys.argv[1]); print(json.dumps("
            "db.execute('SELECT total_base_index_in_wh, meter_identifier FROM teleinfoframes "
            "ORDER BY timestamp').fetchall()))"
        )
        shown = self.run("python3", "-c", query, f"{state_directory}/teleinforeader.sqlite3")
        return [tuple(row) for row in json.loads(shown.stdout)]

    def wait_rows(self, state_directory: str, more_than: int, timeout: float = 60.0) -> list:
        rows: list = []

        def grown() -> bool:
            rows[:] = self.sqlite_rows(state_directory)
            return len(rows) > more_than

        wait_for(grown, timeout, f"more than {more_than} rows in {state_directory}", interval=POLL)
        return rows

    def config(self, path: str) -> str:
        return self.container.path(path).read_text()

    def set_config(self, path: str, text: str) -> None:
        target = self.container.path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    # -- meters ----------------------------------------------------------------------------

    def start_meter(self, link: str, adco: str) -> None:
        """A meter on a pty linked as `link` (root:dialout 0660), as a transient unit."""
        self.run(
            "systemd-run",
            f"--unit={meter_unit(link)}",
            f"--setenv=PYTHONPATH={CHECKOUT}",
            "python3",
            f"{CHECKOUT}/tests/live/meter.py",
            link,
            adco,
        )
        wait_for(
            lambda: self.run("test", "-c", link, check=False).returncode == 0,
            30,
            f"{link} linked to the meter's pty",
            interval=POLL,
        )

    def stop_meter(self, link: str) -> None:
        self.run("systemctl", "stop", meter_unit(link))


def meter_unit(link: str) -> str:
    return "meter-" + link.strip("/").replace("/", "-") + ".service"


def served_frames(port: int, count: int = 2, timeout: float = 30.0) -> list[dict]:
    """`count` JSON lines read from the daemon's socket server (the container shares the host's
    network), as TeleInfoMonitor reads them."""
    lines: list[dict] = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
        stream = client.makefile("rb")
        while len(lines) < count:
            line = stream.readline()
            assert line.endswith(b"\n"), f"the server closed the connection: {lines}"
            lines.append(json.loads(line))
    return lines


def copy_working_tree(target: Path) -> None:
    """The working tree as git sees it (tracked and new files, nothing ignored) into `target`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPOSITORY,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = REPOSITORY / name
        if source.is_file():
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)


def build_sdist(version: str, directory: Path) -> Path:
    """The sdist of this working tree as a newer release, `version`: what an upgrade installs.
    Built with the PEP 517 hook pip calls, by the test environment's poetry-core."""
    with tempfile.TemporaryDirectory() as work:
        tree = Path(work)
        copy_working_tree(tree)
        pyproject = tree / "pyproject.toml"
        text, count = re.subn(
            r'^version = "[^"]+"$',
            f'version = "{version}"',
            pyproject.read_text(),
            count=1,
            flags=re.MULTILINE,
        )
        assert count == 1, "pyproject.toml has no version line"
        pyproject.write_text(text)
        return pep517_build("build_sdist", tree, directory, timeout=120)
