"""One meter's unit and files, as the installer sees them, are the ones systemd gives it from the
unit file's %N; and the installed meters are found by their configuration files."""

from __future__ import annotations

from pathlib import Path

import pytest

from teleinforeader.install.layout import Instance, check_instance_name, installed_instances
from tests.support.units import instance_paths, read_unit

UNIT = read_unit(Path(__file__).resolve().parents[2] / "config" / "teleinforeader.service")


@pytest.mark.parametrize("name", [None, "garage"])
def test_the_installer_and_the_unit_agree_on_every_path(name: str | None) -> None:
    instance = Instance(name)
    paths = instance_paths(UNIT, instance.unit_stem)
    assert paths["config"] == str(instance.config)
    assert paths["state"] == str(instance.state_directory)


def test_instance_names_that_systemd_and_file_names_take_as_they_are() -> None:
    assert check_instance_name("production-2") == "production-2"
    for bad in ["", "a b", "../x", "x/y", "-dash", "é"]:
        with pytest.raises(ValueError, match="instance name"):
            check_instance_name(bad)


def test_installed_meters_are_found_by_their_configuration_files(tmp_path: Path) -> None:
    for name in [
        "teleinforeader.toml",
        "teleinforeader@garage.toml",
        "db-password",
        "teleinforeader@garage.environment",
        "other.toml",
        "teleinforeader@.toml",
    ]:
        (tmp_path / name).touch()
    assert installed_instances(tmp_path) == [Instance(), Instance("garage")]
    assert installed_instances(tmp_path / "missing") == []
