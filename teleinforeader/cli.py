"""The `teleinforeader` command line: `teleinforeader --config FILE` runs the daemon.

Subcommands live in `teleinforeader.commands.<module>`, each with `add_arguments(parser)` and
`run(args) -> int`. Only the chosen command's module is imported, so `teleinforeader --version`
and the daemon's start-up pay for nothing else.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, one-line help). "run" is the default when no command is named.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("teleinforeader.commands.run", "run the daemon (the default command)"),
    "check-config": (
        "teleinforeader.commands.check_config",
        "validate a configuration file and print the effective settings",
    ),
    "db": ("teleinforeader.commands.db", "create, upgrade and inspect the database"),
    "tail": ("teleinforeader.commands.tail", "follow the frames a running daemon broadcasts"),
    "probe": ("teleinforeader.commands.probe", "find the meter on a serial port and diagnose it"),
    "record": ("teleinforeader.commands.record", "capture raw bytes from a serial port to a file"),
}
DEFAULT_COMMAND = "run"


class _VersionAction(argparse.Action):
    """--version, reading package metadata only when asked (it costs start-up time)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import version

        parser.exit(message=f"teleinforeader {version('teleinforeader')}\n")


def _with_default_command(argv: list[str]) -> list[str]:
    """`teleinforeader --config F` means `teleinforeader run --config F`."""
    if not argv or argv[0] in COMMANDS or argv[0] in {"-h", "--help", "--version"}:
        return argv if argv else [DEFAULT_COMMAND]
    return [DEFAULT_COMMAND, *argv]


def build_parser(command: str) -> tuple[argparse.ArgumentParser, object]:
    """The parser, with full arguments for `command` only (the others listed for --help)."""
    parser = argparse.ArgumentParser(
        prog="teleinforeader",
        description="Read a French Enedis meter's TeleInfo stream, store and broadcast it.",
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    module = None
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
    return parser, module


def main(argv: Sequence[str] | None = None) -> int:
    args_list = _with_default_command(list(sys.argv[1:] if argv is None else argv))
    command = args_list[0] if args_list[0] in COMMANDS else None
    if command is None:  # --help or --version
        parser, _ = build_parser("")
        parser.parse_args(args_list)
        return 0
    parser, module = build_parser(command)
    args = parser.parse_args(args_list)
    return int(module.run(args) or 0)  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
