"""What a release is built from, and which of two versions is older."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from teleinforeader.install.release import find_source, is_older, source_digest
from teleinforeader.install.system import InstallError

REPOSITORY = Path(__file__).resolve().parents[2]


def test_versions_are_ordered_as_pep_440_orders_them() -> None:
    ordered = ["0.9", "1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.post1", "1.0.1"]
    for older, newer in zip(ordered, ordered[1:]):
        assert is_older(older, newer) and not is_older(newer, older), (older, newer)
    assert not is_older("1.0", "1.0.0")
    assert not is_older("1.0+local", "2.0")  # a version it cannot read is never called older


def test_the_source_is_the_checkout_the_installer_is_in() -> None:
    source = find_source()
    assert source.root == REPOSITORY
    assert source.version in (REPOSITORY / "pyproject.toml").read_text()
    assert source.unit_file.name == "teleinforeader.service"


def test_a_directory_that_is_not_a_checkout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="not a checkout or an unpacked sdist"):
        find_source(tmp_path)


def test_the_digest_follows_the_package_files_and_the_extras(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(REPOSITORY / "teleinforeader", tree / "teleinforeader")
    shutil.copytree(REPOSITORY / "config", tree / "config")
    shutil.copy(REPOSITORY / "pyproject.toml", tree)
    source = find_source(tree)
    digest = source_digest(source, [], [])
    assert source_digest(source, [], []) == digest
    assert source_digest(source, ["mariadb"], []) != digest
    assert source_digest(source, [], ["mariadb<1.1"]) != digest
    (tree / "teleinforeader" / "__pycache__").mkdir(exist_ok=True)
    (tree / "teleinforeader" / "__pycache__" / "x.pyc").write_bytes(b"compiled")
    assert source_digest(source, [], []) == digest  # byte-code is not the source
    daemon = tree / "teleinforeader" / "daemon.py"
    daemon.write_text(daemon.read_text() + "\n")
    assert source_digest(source, [], []) != digest
