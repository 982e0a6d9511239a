"""The command line basics, through real subprocesses: --version, --help, unknown commands and
options, `python -m teleinforeader` and the console script agreeing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from teleinforeader.cli import build_parser, plain_run_arguments

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
RunCli = Callable[..., subprocess.CompletedProcess[str]]


def test_version_is_the_pyproject_version(run_cli: RunCli) -> None:
    version = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"teleinforeader {version}\n"
    assert result.stderr == ""


def test_console_script_is_the_same_program(run_cli: RunCli) -> None:
    script = Path(sys.executable).with_name("teleinforeader")
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert result.stdout == run_cli("--version").stdout


def test_help_lists_every_command(run_cli: RunCli) -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("run", "check-config", "db", "tail", "probe", "record"):
        assert command in result.stdout


def test_check_config_help_shows_the_common_options(run_cli: RunCli) -> None:
    result = run_cli("check-config", "--help")
    assert result.returncode == 0
    assert "--config FILE" in result.stdout
    assert "--log-level LEVEL" in result.stdout


def test_unknown_command_is_a_usage_error(run_cli: RunCli) -> None:
    result = run_cli("chek-config")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "invalid choice: 'chek-config'" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_option_is_a_usage_error(run_cli: RunCli) -> None:
    result = run_cli("check-config", "--confgi", "x.toml")
    assert result.returncode == 2
    assert "unrecognized arguments: --confgi" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_option_value_is_a_usage_error(run_cli: RunCli) -> None:
    result = run_cli("check-config", "--config")
    assert result.returncode == 2
    assert "argument --config: expected one argument" in result.stderr


PLAIN = [
    ["run"],
    ["run", "--config", "/etc/teleinforeader/teleinforeader.toml"],
    ["run", "--print"],
    ["run", "--log-level", "DEBUG", "--config", "a file.toml", "--print"],
]
NOT_PLAIN = [
    ["run", "--config", "x", "--config", "y"],  # argparse keeps the last: it decides
    ["run", "--log-level", "bogus"],
    ["run", "--config=x"],
    ["run", "--conf", "x"],  # an abbreviation argparse accepts
    ["run", "--config"],
    ["run", "-h"],
    ["probe", "--config", "x"],
]


@pytest.mark.parametrize("words", PLAIN, ids=" ".join)
def test_the_daemon_s_usual_command_lines_are_read_as_argparse_reads_them(words: list) -> None:
    """The unit's command line is read without argparse (its import is start-up time on a Pi
    Zero): to the same arguments."""
    parser, _ = build_parser("run")
    plain = plain_run_arguments(words)
    assert plain is not None and vars(plain) == vars(parser.parse_args(words))


@pytest.mark.parametrize("words", NOT_PLAIN, ids=" ".join)
def test_any_other_command_line_is_left_to_argparse(words: list) -> None:
    assert plain_run_arguments(words) is None
