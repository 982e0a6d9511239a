"""The machine the installer works on: commands, Debian packages, systemd, files, the user.

Every command runs without a shell, with a plain environment, and its output is kept out of
the report unless it fails (then its last lines are the error). A secret is only ever passed on
a command's standard input, never in its arguments, which any user can read in /proc.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from teleinforeader.install.layout import SERIAL_GROUP, SERVICE_USER
from teleinforeader.install.report import Report

PLAIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ERROR_LINES = 12  # of a failed command's output, in the error


class InstallError(Exception):
    """A step that cannot be done; its str() says what went wrong and what to do."""


def preflight() -> None:
    """Root, and systemd running the machine: without either nothing below can work."""
    if os.geteuid() != 0:
        raise InstallError("run it as root: sudo python3 -m teleinforeader.install ...")
    if not Path("/run/systemd/system").is_dir():
        raise InstallError(
            "systemd is not running this machine (no /run/systemd/system): the service needs it"
        )


class Host:
    """Runs what the steps ask, and tells the report about the packages it installs."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self._lists_updated = False

    def run(
        self,
        command: Sequence[str],
        *,
        stdin: str | None = None,
        as_service_user: bool = False,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        environment = {"PATH": PLAIN_PATH, "LANG": "C.UTF-8", "HOME": "/root"}
        kwargs: dict = {}
        if as_service_user:
            environment["HOME"] = "/"
            kwargs.update(user=SERVICE_USER, group=SERVICE_USER, extra_groups=[SERIAL_GROUP])
        environment.update(env or {})
        try:
            result = subprocess.run(
                list(command),
                input=stdin,
                capture_output=True,
                text=True,
                env=environment,
                cwd="/",
                check=False,
                **kwargs,
            )
        except OSError as exc:
            raise InstallError(f"cannot run {command[0]}: {exc.strerror}") from None
        if check and result.returncode != 0:
            output = (result.stdout + result.stderr).strip().splitlines()[-ERROR_LINES:]
            raise InstallError(
                f"`{' '.join(command)}` failed (exit status {result.returncode})"
                + "".join(f"\n    {line}" for line in output)
            )
        return result

    # -- Debian packages -------------------------------------------------------------------

    def missing_packages(self, names: Sequence[str]) -> list[str]:
        missing = []
        for name in names:
            status = self.run(["dpkg-query", "-W", "-f=${db:Status-Status}", name], check=False)
            if status.stdout.strip() != "installed":
                missing.append(name)
        return missing

    def ensure_packages(self, names: Sequence[str], why: str) -> None:
        """Install what is missing of `names` (Debian packages), saying `why` they are needed."""
        missing = self.missing_packages(names)
        if not missing:
            self.report.kept(f"{why}: {', '.join(names)} installed")
            return
        self.report.busy(f"installing {' '.join(missing)} ({why})")
        environment = {"DEBIAN_FRONTEND": "noninteractive"}
        if not self._lists_updated:
            self.run(["apt-get", "update", "-q"], env=environment)
            self._lists_updated = True
        self.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
            env=environment,
        )
        self.report.did(f"{why}: installed {', '.join(missing)}")

    # -- systemd ---------------------------------------------------------------------------

    def systemctl(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(["systemctl", *arguments], check=check)

    def unit_state(self, unit: str) -> str:
        """active, inactive, failed, activating, ... (systemctl is-active)."""
        return self.systemctl("is-active", unit, check=False).stdout.strip()

    def unit_property(self, unit: str, name: str) -> str:
        return self.systemctl("show", "--property", name, "--value", unit).stdout.strip()

    def journal_tail(self, unit: str, lines: int = 10) -> list[str]:
        result = self.run(
            ["journalctl", "--unit", unit, "--lines", str(lines), "--no-pager", "--output=cat"],
            check=False,
        )
        return result.stdout.splitlines()

    # -- files -----------------------------------------------------------------------------

    def write_file(self, path: Path, text: str, mode: int, group: str | None = None) -> bool:
        """Write `text` to `path` (created with `mode`, owned by root and `group`) unless it
        already holds exactly that; True when it was written. The new content replaces the old
        at once (a rename), so a reader never sees half a file."""
        try:
            if path.read_text(encoding="utf-8") == text:
                _set_owner_and_mode(path, mode, group)
                return False
        except (FileNotFoundError, UnicodeDecodeError):
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.new")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        _set_owner_and_mode(temporary, mode, group)
        os.replace(temporary, path)
        return True

    def make_directory(self, path: Path, mode: int, owner: str | None = None) -> bool:
        """`path` with `mode`, owned by `owner` (and its group) or root; True if created."""
        created = not path.is_dir()
        path.mkdir(parents=True, exist_ok=True)
        uid = gid = 0
        if owner is not None:
            entry = pwd.getpwnam(owner)
            uid, gid = entry.pw_uid, entry.pw_gid
        os.chown(path, uid, gid)
        os.chmod(path, mode)
        return created


def user_exists(name: str = SERVICE_USER) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def in_group(user: str, group: str) -> bool:
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return False
    return user in entry.gr_mem or pwd.getpwnam(user).pw_gid == entry.gr_gid


def _set_owner_and_mode(path: Path, mode: int, group: str | None) -> None:
    os.chown(path, 0, grp.getgrnam(group).gr_gid if group else 0)
    os.chmod(path, mode)
