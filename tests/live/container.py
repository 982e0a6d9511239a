"""A throwaway Debian machine with a real systemd: debootstrapped once, booted by systemd-nspawn.

The root file system of each release is debootstrapped from the host's own Debian mirror and
kept as a tarball in the cache directory, so that a rerun only unpacks it (seconds); the
packages the installer fetches inside (apt) and the wheels pip builds there are kept in the cache
too, bind-mounted into every new container. Commands run inside through `nsenter` into the
container's namespaces, with a plain environment (nothing of the host's leaks in).

How the container boots depends on the host, and these are the facts that make it work:
- without a systemd running the host (PID 1 something else), nspawn cannot ask it for a scope:
  `--keep-unit --register=no` keeps the container in nspawn's own cgroup;
- on a host whose cgroups are a v1 hybrid (cgroup2 mounted at /sys/fs/cgroup/unified), the
  container's systemd is given a pure cgroup2 hierarchy (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1): in
  v1 mode it cannot write the devices controller, which nspawn mounts read-only, and
  DevicePolicy= would silently not be enforced;
- in cgroup2, DevicePolicy= is a BPF program systemd attaches to the unit's cgroup, and nspawn's
  own system call filter refuses bpf(): `--system-call-filter=bpf` lets it through, or again the
  unit's device list is silently not enforced.
The container shares the host's network (apt and pip need it; nothing else is reachable): what
it listens on, the installer chooses among the ports free on the host.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

RELEASES = {"bullseye": "11", "bookworm": "12", "trixie": "13"}
DEFAULT_RELEASE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# What a minimal Raspberry Pi OS has too: systemd as init, Python, the CA certificates.
PACKAGES = ("systemd", "systemd-sysv", "dbus", "python3", "ca-certificates")
PLAIN_ENVIRONMENT = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}
BOOT_TIMEOUT = 120.0
COMMAND_TIMEOUT = 1200.0  # an install that builds the MariaDB connector takes minutes


class CannotBootError(Exception):
    """This host cannot boot the container; str() says exactly why."""


def cache_directory() -> Path:
    return Path(os.environ.get("TELEINFOREADER_LIVE_CACHE", "/var/cache/teleinforeader-live"))


def why_not_bootable() -> str | None:
    """The reason this host cannot run the live test, or None when it can."""
    if platform.system() != "Linux":
        return "the live test boots a Linux container: this is not Linux"
    if os.geteuid() != 0:
        return "the live test boots a container with systemd-nspawn, which needs root"
    for tool in ("systemd-nspawn", "debootstrap", "nsenter", "tar"):
        if shutil.which(tool) is None:
            return f"{tool} is missing (make test-live installs it, as root)"
    if cgroup2_mount() is None:
        return "no cgroup2 hierarchy is mounted: the container's systemd needs one"
    return None


def cgroup2_mount() -> str | None:
    """Where the host mounts cgroup2: /sys/fs/cgroup (unified), /sys/fs/cgroup/unified (hybrid)."""
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "cgroup2":
            return fields[1]
    return None


def host_mirror() -> str:
    """The Debian mirror the host's apt uses (deb822 .sources or a sources.list line)."""
    candidates = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in candidates:
        text = path.read_text(errors="replace")
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.MULTILINE)
            if uris and "security" not in uris[1] and "/debian" in uris[1]:
                return uris[1].rstrip("/")
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*.list")]:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        found = re.search(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+/debian)/?\s", text, re.MULTILINE)
        if found:
            return found[1]
    return DEFAULT_MIRROR


def rootfs_tarball(release: str, mirror: str, log: Path) -> Path:
    """The debootstrapped root file system of `release`, built once and cached."""
    architecture = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    digest = hashlib.sha256(f"{mirror} {' '.join(PACKAGES)}".encode()).hexdigest()[:10]
    tarball = cache_directory() / f"debian-{release}-{architecture}-{digest}.tar"
    if tarball.is_file():
        return tarball
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"debootstrap-{release}-", dir="/var/tmp") as work:
        root = Path(work) / "root"
        with log.open("ab") as output:
            subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(PACKAGES)}",
                    release,
                    str(root),
                    mirror,
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=1800,
            )
        (root / "etc/apt/sources.list").write_text(f"deb {mirror} {release} main\n")
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
        os.replace(partial, tarball)
    return tarball


class Container:
    """One booted Debian `release`, its root file system unpacked under /var/tmp."""

    def __init__(self, release: str, log_directory: Path) -> None:
        if release not in RELEASES:
            raise ValueError(f"release {release!r}: one of {', '.join(RELEASES)}")
        self.release = release
        self.name = f"tir-live-{release}-{os.getpid()}"
        self.logs = log_directory
        self.root: Path | None = None
        self.nspawn: subprocess.Popen | None = None
        self.leader = 0

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        """Unpack a fresh root file system and boot it."""
        mirror = host_mirror()
        tarball = rootfs_tarball(self.release, mirror, self.logs / "debootstrap.log")
        self.root = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir="/var/tmp"))
        subprocess.run(["tar", "-C", str(self.root), "-xf", str(tarball)], check=True)
        self._trust_what_the_host_trusts()
        self._boot()

    def reboot(self) -> None:
        """Power off and boot the same file system again, as a Pi's reboot does."""
        self._power_off()
        self._boot()

    def _boot(self) -> None:
        assert self.root is not None
        caches = cache_directory() / "inside" / self.release
        binds = {caches / "apt": "/var/cache/apt/archives", caches / "pip": "/root/.cache/pip"}
        for host_side in binds:
            host_side.mkdir(parents=True, exist_ok=True)
        command = [
            "systemd-nspawn",
            "--quiet",
            "--boot",
            f"--directory={self.root}",
            f"--machine={self.name}",
            "--register=no",
            "--system-call-filter=bpf",
            "--console=read-only",
            "--link-journal=no",
            "--resolv-conf=copy-host",
            *(f"--bind={host}:{inside}" for host, inside in binds.items()),
        ]
        environment = dict(os.environ)
        if not Path("/run/systemd/system").is_dir():  # no systemd on the host to ask for a scope
            command.append("--keep-unit")
        if cgroup2_mount() != "/sys/fs/cgroup":  # a v1 hybrid: give the container pure cgroup2
            environment["SYSTEMD_NSPAWN_UNIFIED_HIERARCHY"] = "1"
        console = (self.logs / f"console-{self.release}.log").open("ab")
        self.nspawn = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=console, stderr=console, env=environment
        )
        console.close()
        self.leader = self._find_leader()
        self._wait_until_running()

    def stop(self) -> None:
        """Power the container off, then remove its file system."""
        self._power_off()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _power_off(self) -> None:
        """An orderly poweroff; nspawn is killed if the container is not down in a minute."""
        if self.nspawn is None or self.nspawn.poll() is not None:
            return
        if self.leader:
            self.run("systemctl", "--no-block", "poweroff", check=False, timeout=30)
        try:
            self.nspawn.wait(60)
        except subprocess.TimeoutExpired:
            self.nspawn.send_signal(signal.SIGKILL)
            self.nspawn.wait(30)
        self.leader = 0

    def _trust_what_the_host_trusts(self) -> None:
        """The host's CA certificates and pip configuration: where the host reaches PyPI through
        a mirror or a proxy with its own CA, the container must too."""
        assert self.root is not None
        bundle = Path("/etc/ssl/certs/ca-certificates.crt")
        if bundle.is_file():
            shutil.copy(bundle, self.root / "etc/ssl/certs/ca-certificates.crt")
        if Path("/etc/pip.conf").is_file():
            shutil.copy("/etc/pip.conf", self.root / "etc/pip.conf")

    def _find_leader(self) -> int:
        """The container's PID 1, as the host sees it: nspawn's child."""
        assert self.nspawn is not None
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise CannotBootError(
                    f"systemd-nspawn exited with status {self.nspawn.returncode}: "
                    + self.console_tail()
                )
            children = Path(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children")
            pids = children.read_text().split() if children.exists() else []
            if pids:
                return int(pids[0])
            time.sleep(0.1)
        raise CannotBootError("systemd-nspawn started no container")

    def _wait_until_running(self) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT
        state = ""
        while time.monotonic() < deadline:
            state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
            if state in {"running", "degraded"}:
                return
            time.sleep(0.5)
        raise CannotBootError(f"the container's systemd did not finish booting: {state}")

    def console_tail(self, lines: int = 20) -> str:
        path = self.logs / f"console-{self.release}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    # -- inside ----------------------------------------------------------------------------

    def run(
        self,
        *command: str,
        check: bool = True,
        stdin: str | None = None,
        timeout: float = COMMAND_TIMEOUT,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`command` inside the container, as root, with a plain environment."""
        environment = [
            f"{key}={value}" for key, value in {**PLAIN_ENVIRONMENT, **(env or {})}.items()
        ]
        result = subprocess.run(
            [
                "nsenter",
                f"--target={self.leader}",
                "--all",
                "--",
                "env",
                "-i",
                *environment,
                *command,
            ],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"in the container, {' '.join(command)} exited {result.returncode}:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def sh(self, script: str, check: bool = True) -> str:
        return self.run("sh", "-ec", script, check=check).stdout

    def path(self, inside: str) -> Path:
        """Where a file of the container is on the host."""
        assert self.root is not None
        return self.root / inside.lstrip("/")
