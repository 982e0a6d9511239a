"""The wheel and sdist poetry-core builds, and what `pip install` makes of them.

Built by calling the PEP 517 hooks pip itself calls, with the poetry-core of the test
environment: offline, and in well under a second.
"""

from __future__ import annotations

import email
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from teleinforeader.sinks.http.static import FILES as STATIC_FILES

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

REPOSITORY = Path(__file__).resolve().parents[2]
BUILD_HOOK = """
import sys
from poetry.core.masonry import api

print(getattr(api, sys.argv[1])(sys.argv[2]))
"""


def build(hook: str, directory: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-c", BUILD_HOOK, hook, str(directory)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return directory / result.stdout.strip()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build("build_wheel", tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def sdist(tmp_path_factory) -> Path:
    return build("build_sdist", tmp_path_factory.mktemp("sdist"))


@pytest.fixture(scope="module")
def project_version() -> str:
    with (REPOSITORY / "pyproject.toml").open("rb") as pyproject:
        return tomllib.load(pyproject)["project"]["version"]


def package_modules() -> set[str]:
    return {
        path.relative_to(REPOSITORY).as_posix()
        for path in (REPOSITORY / "teleinforeader").rglob("*.py")
    }


def test_wheel_holds_the_package_and_the_licence_and_nothing_else(wheel, project_version):
    names = set(zipfile.ZipFile(wheel).namelist())
    dist_info = f"teleinforeader-{project_version}.dist-info"
    assert {name for name in names if name.endswith(".py")} == package_modules()
    assert f"{dist_info}/licenses/LICENSE" in names
    # Anything outside the package and its .dist-info would be installed into site-packages.
    assert {name.split("/")[0] for name in names} == {"teleinforeader", dist_info}


PAGE_FILES = {f"teleinforeader/sinks/http/static/{name}" for name in STATIC_FILES}


def test_wheel_and_sdist_carry_the_web_page(wheel, sdist, project_version):
    """The page is served from the installed package: its files must be in both."""
    assert set(zipfile.ZipFile(wheel).namelist()) >= PAGE_FILES
    root = f"teleinforeader-{project_version}"
    with tarfile.open(sdist) as archive:
        names = {name.removeprefix(f"{root}/") for name in archive.getnames()}
    assert names >= PAGE_FILES


def test_wheel_metadata_carries_the_pyproject_version_and_the_console_script(
    wheel, project_version
):
    archive = zipfile.ZipFile(wheel)
    dist_info = f"teleinforeader-{project_version}.dist-info"
    metadata = email.message_from_bytes(archive.read(f"{dist_info}/METADATA"))
    assert metadata["Version"] == project_version
    assert metadata["Requires-Python"] == ">=3.9"
    requirements = metadata.get_all("Requires-Dist")
    assert any(requirement.startswith("pyserial") for requirement in requirements)
    assert any('extra == "mariadb"' in requirement for requirement in requirements)
    entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    assert "teleinforeader=teleinforeader.cli:main" in entry_points.replace(" ", "")


def test_sdist_holds_the_package_licence_changelog_and_installation_files(sdist, project_version):
    root = f"teleinforeader-{project_version}"
    with tarfile.open(sdist) as archive:
        names = {name.removeprefix(f"{root}/") for name in archive.getnames()}
        metadata = email.message_from_bytes(archive.extractfile(f"{root}/PKG-INFO").read())
    assert package_modules() <= names
    assert {"LICENSE", "Changelog.md", "README.md", "pyproject.toml"} <= names
    installation = {"teleinforeader.service", "teleinforeader.sysusers", "teleinforeader.toml"}
    assert {f"config/{name}" for name in installation} <= names
    assert metadata["Version"] == project_version


def test_pip_installs_the_sdist_and_reports_the_one_version(sdist, project_version, tmp_path):
    """What `pip install .` does: build a wheel from the source, install it, run the script."""
    target = tmp_path / "site"
    # Run away from the checkout, whose package would otherwise shadow the installed one.
    outside = {"cwd": tmp_path, "env": {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}}
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"),
            *("--no-build-isolation", "--target", str(target), str(sdist)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert (target / "teleinforeader" / "cli.py").is_file()
    result = subprocess.run(
        [sys.executable, str(target / "bin" / "teleinforeader"), "--version"],
        **outside,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == f"teleinforeader {project_version}\n"
    installed = subprocess.run(
        [sys.executable, "-c", "import teleinforeader; print(teleinforeader.__file__)"],
        **outside,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert installed.stdout.startswith(str(target))
