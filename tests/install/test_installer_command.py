"""The installer as the README runs it: the system's Python, the standard library only, as root."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
INSTALLER = REPOSITORY / "teleinforeader" / "install"
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")


def test_the_installer_imports_the_standard_library_and_itself_only() -> None:
    allowed = set(sys.stdlib_module_names) | {"teleinforeader"}
    for module in sorted(INSTALLER.glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{module.name} imports {name}"
                if name.startswith("teleinforeader"):
                    assert name == "teleinforeader.install" or name.startswith(
                        "teleinforeader.install."
                    ), f"{module.name} imports {name}, which needs the virtual environment"


@pytest.mark.skipif(SYSTEM_PYTHON is None, reason="no system python3 in /usr/bin")
def test_the_system_python_runs_it_from_the_checkout() -> None:
    result = subprocess.run(
        [SYSTEM_PYTHON, "-E", "-s", "-m", "teleinforeader.install", "install", "--help"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for option in ("--instance", "--device", "--local-mariadb", "--yes"):
        assert option in result.stdout


def as_nobody() -> None:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


@pytest.mark.skipif(SYSTEM_PYTHON is None, reason="no system python3 in /usr/bin")
def test_it_says_it_needs_root() -> None:
    """Run by a user (sudo forgotten): from a copy of the installer that user can read."""
    with tempfile.TemporaryDirectory() as directory:
        copy = Path(directory)
        copy.chmod(0o755)
        shutil.copytree(INSTALLER, copy / "teleinforeader" / "install")
        shutil.copy(INSTALLER.parent / "__init__.py", copy / "teleinforeader")
        result = subprocess.run(
            [SYSTEM_PYTHON, "-E", "-s", "-m", "teleinforeader.install", "--yes"],
            cwd=copy,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            preexec_fn=as_nobody if os.geteuid() == 0 else None,
        )
    assert result.returncode == 1, result.stderr
    assert "run it as root: sudo python3 -m teleinforeader.install" in result.stderr


def test_an_instance_name_that_cannot_name_a_unit_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "teleinforeader.install", "--instance", "a/b"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "instance name 'a/b'" in result.stderr
