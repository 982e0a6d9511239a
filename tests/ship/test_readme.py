"""README.md, as a newcomer follows it: every command, file and make target it names exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from teleinforeader.cli import COMMANDS

REPOSITORY = Path(__file__).resolve().parents[2]
README = (REPOSITORY / "README.md").read_text(encoding="utf-8")
FENCED = re.compile(r"```[a-z]*\n(.*?)```", re.DOTALL)


def section(title: str) -> str:
    found = re.search(
        rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.MULTILINE | re.DOTALL
    )
    assert found, f"README.md has no section {title!r}"
    return found.group(1)


def code(text: str) -> str:
    """What a reader would type: fenced blocks and `inline` spans."""
    inline = re.findall(r"`([^`\n]+)`", FENCED.sub("", text))
    return "\n".join(FENCED.findall(text) + inline)


def test_quick_start_is_two_commands():
    blocks = FENCED.findall(section("Quick start"))
    assert [block.split() for block in blocks] == [["make", "demo", "make", "test"]]


@pytest.mark.parametrize(
    "title",
    [
        "What it is",
        "Quick start",
        "Hardware",
        "Install on a Raspberry Pi",
        "Troubleshooting",
        "Release checklist",
    ],
)
def test_section_is_there(title):
    assert section(title).strip()


def test_every_subcommand_named_exists():
    named = set(re.findall(r"(?<![\w.-])teleinforeader ([a-z][\w-]*)", code(README)))
    assert named, "README.md names no subcommand at all"
    assert named <= set(COMMANDS)


def test_every_make_target_named_exists():
    makefile = (REPOSITORY / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))
    # `make X` at the start of a command (not `apt install make python3`).
    named = set(re.findall(r"(?:^|&&|;)\s*make ([a-z][\w-]*)", code(README), re.MULTILINE))
    assert {"demo", "test"} <= named <= targets


def test_every_repository_file_named_exists():
    named = set(re.findall(r"\b(?:config|docs|benchmarks)/[\w-]+\.[\w.]+", README))
    assert "config/teleinforeader.service" in named
    assert [path for path in sorted(named) if not (REPOSITORY / path).exists()] == []


def test_install_runs_what_the_unit_starts():
    unit = (REPOSITORY / "config" / "teleinforeader.service").read_text(encoding="utf-8")
    executable = re.search(r"^ExecStart=(\S+)", unit, re.MULTILINE).group(1)
    install = code(section("Install on a Raspberry Pi"))
    assert f"python3 -m venv {Path(executable).parent.parent}" in install
    assert f"{executable} check-config" in install
    assert "systemd-sysusers" in install
    assert "dtoverlay=disable-bt" in section("Install on a Raspberry Pi")


def test_install_is_the_one_command_and_its_options_exist():
    install = section("Install on a Raspberry Pi")
    assert "sudo python3 -m teleinforeader.install\n" in install
    named = set(re.findall(r"`(--[a-z-]+)", install))
    assert {"--device", "--local-mariadb", "--instance", "--purge"} <= named
    helps = [
        subprocess.run(
            [sys.executable, "-m", "teleinforeader.install", command, "--help"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        for command in ("install", "uninstall")
    ]
    known = set(re.findall(r"(--[a-z-]+)", "".join(helps)))
    assert named <= known, named - known


def test_each_manual_step_of_the_original_has_its_replacement():
    replaced = section("Troubleshooting")
    for old, new in [
        ("stty", "teleinforeader probe"),
        ("hand-written SQL", "teleinforeader db init"),
        ("ProtectSystem=full", "config/teleinforeader.service"),
        ("chmod 666", "dialout"),
    ]:
        row = next(line for line in replaced.splitlines() if old in line)
        assert new in row
