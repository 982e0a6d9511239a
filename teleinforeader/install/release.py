"""The program: one virtual environment per release, and a link to the one in service.

An upgrade builds the new release beside the running one (on a Pi Zero, pip takes minutes, and
compiling the MariaDB connector longer), checks it, and only then stops the service, moves the
link `/opt/teleinforeader/venv` and starts it again: the meter is read all along but for a few
seconds, and a release that does not install or refuses the configuration changes nothing. The
release before is kept, to go back to by moving the link; older ones are removed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from teleinforeader.install.layout import RELEASES, VENV_LINK
from teleinforeader.install.system import Host, InstallError

KEEP = 2  # releases kept: the one in service and the one before it
DIGEST_FILE = ".teleinforeader-source"  # in a release: what it was built from


@dataclass(frozen=True)
class Source:
    """A checkout or an unpacked sdist: what pip installs, and its shipped files."""

    root: Path
    version: str

    @property
    def example_config(self) -> Path:
        return self.root / "config" / "teleinforeader.toml"

    @property
    def unit_file(self) -> Path:
        return self.root / "config" / "teleinforeader.service"

    @property
    def sysusers_file(self) -> Path:
        return self.root / "config" / "teleinforeader.sysusers"


def find_source(root: Path | None = None) -> Source:
    """The project this installer belongs to (two levels above this package, in a checkout or
    an sdist), or `root`; InstallError when it is not one."""
    root = (root or Path(__file__).resolve().parents[2]).resolve()
    try:
        pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        raise InstallError(
            f"{root} is not a checkout or an unpacked sdist of teleinforeader (no "
            "pyproject.toml): run the installer from one (cd teleinforeader && sudo python3 -m "
            "teleinforeader.install), or give it with --source DIR"
        ) from None
    found = re.search(r'^name\s*=\s*"teleinforeader"\s*$', pyproject, re.MULTILINE)
    version = re.search(r'^version\s*=\s*"([^"]+)"\s*$', pyproject, re.MULTILINE)
    if not found or not version:
        raise InstallError(f"{root / 'pyproject.toml'} is not teleinforeader's")
    source = Source(root, version[1])
    for shipped in (source.example_config, source.unit_file, source.sysusers_file):
        if not shipped.is_file():
            raise InstallError(f"{shipped} is missing: the checkout or sdist is incomplete")
    return source


_VERSION = re.compile(r"(\d+(?:\.\d+)*)(?:(a|b|rc)(\d+))?(?:\.post(\d+))?(?:\.dev(\d+))?")


def version_key(version: str) -> tuple | None:
    """A key ordering versions as PEP 440 does (N.N.N, aN/bN/rcN, .postN, .devN, which is all
    this project uses); None for anything else, which is then never called older."""
    found = _VERSION.fullmatch(version)
    if found is None:
        return None
    release, pre, pre_number, post, dev = found.groups()
    numbers = [int(part) for part in release.split(".")]
    while numbers and numbers[-1] == 0:  # 1.0 == 1.0.0
        numbers.pop()
    if pre:
        stage = (("a", "b", "rc").index(pre), int(pre_number))
    elif dev and not post:
        stage = (-1, 0)  # 1.0.dev1 comes before 1.0a1
    else:
        stage = (3, 0)
    return (
        tuple(numbers),
        stage,
        int(post) if post else -1,
        int(dev) if dev else float("inf"),
    )


def is_older(version: str, than: str) -> bool:
    mine, theirs = version_key(version), version_key(than)
    return mine is not None and theirs is not None and mine < theirs


def current_release() -> Path | None:
    """The release in service (what the link points to), None before the first install."""
    if VENV_LINK.is_symlink():
        return Path(os.path.realpath(VENV_LINK))
    return VENV_LINK if VENV_LINK.is_dir() else None  # a virtual environment made by hand


def installed_version(release: Path) -> str | None:
    try:
        names = os.listdir(next(release.glob("lib/python3*/site-packages")))
    except (StopIteration, OSError):
        return None
    for name in names:
        found = re.fullmatch(r"teleinforeader-(.+)\.dist-info", name)
        if found:
            return found[1]
    return None


def source_digest(source: Source, extras: list[str], pins: list[str]) -> str:
    """What a release is built from: the package's files, pyproject.toml, extras and pins."""
    digest = hashlib.sha256(",".join(sorted(extras) + sorted(pins)).encode())
    files = [source.root / "pyproject.toml", *(source.root / "teleinforeader").rglob("*")]
    for path in sorted(files):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(source.root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def built_from(release: Path) -> str | None:
    try:
        return (release / DIGEST_FILE).read_text(encoding="ascii").strip()
    except OSError:
        return None


def build_release(
    host: Host, source: Source, extras: list[str], pins: list[str], digest: str
) -> Path:
    """A new virtual environment with the project (and `extras`) installed from `source`,
    its dependencies held to `pins` (requirement strings) where given."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    release = RELEASES / f"{source.version}-{stamp}"
    RELEASES.mkdir(parents=True, exist_ok=True)
    os.chmod(RELEASES.parent, 0o755)
    host.report.busy(f"creating the virtual environment {release}")
    host.run([sys.executable, "-m", "venv", str(release)])
    requirement = str(source.root) + (f"[{','.join(extras)}]" if extras else "")
    host.report.busy(
        f"installing teleinforeader {source.version} there (pip: minutes on a Pi Zero)"
    )
    try:
        host.run(
            [
                str(release / "bin" / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                requirement,
                *pins,
            ]
        )
    except InstallError:
        shutil.rmtree(release, ignore_errors=True)
        raise
    version = host.run([str(release / "bin" / "teleinforeader"), "--version"]).stdout.split()
    if version[-1:] != [source.version]:
        shutil.rmtree(release, ignore_errors=True)
        raise InstallError(f"the new release reports {' '.join(version)}, not {source.version}")
    (release / DIGEST_FILE).write_text(digest + "\n", encoding="ascii")
    return release


def switch_to(release: Path) -> Path | None:
    """Point the link at `release` in one step; the release it pointed to before, if any.

    A virtual environment made by hand where the link goes (README's manual steps) is moved
    into the releases, as the release before."""
    previous = current_release()
    if previous == VENV_LINK:  # a real directory: make it a release
        previous = RELEASES / f"manual-{time.strftime('%Y%m%dT%H%M%S')}"
        os.replace(VENV_LINK, previous)
    temporary = VENV_LINK.with_name(".venv.new")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(release)
    os.replace(temporary, VENV_LINK)
    return previous


def prune_releases(keep: list[Path]) -> list[Path]:
    """Remove every release but those in `keep` (and the newest ones up to KEEP); the removed."""
    releases = sorted(RELEASES.iterdir(), key=lambda path: path.stat().st_mtime, reverse=True)
    kept = {path.resolve() for path in keep if path is not None}
    for path in releases:
        if len(kept) >= KEEP:
            break
        kept.add(path.resolve())
    removed = [path for path in releases if path.resolve() not in kept]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed
