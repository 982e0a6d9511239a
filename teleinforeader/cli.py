"""The `teleinforeader` command line: `teleinforeader --config FILE` runs the daemon.

Subcommands live in `teleinforeader.commands.<module>`, each with `add_arguments(parser)` and
`run(args) -> int`. Only the chosen command's module is imported, so `teleinforeader --version`
and the daemon's start-up pay for nothing else. The daemon's usual command lines (the unit's
`--config FILE`, `--log-level LEVEL`, `--print`) and `--version` are read without argparse,
whose import and help formatter cost a Pi Zero more than a tenth of a second; anything else,
mistakes and --help included, goes through argparse.
"""

from __future__ import annotations

import importlib
import signal
import sys
from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from teleinforeader.settings import Settings

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


def _print_version() -> None:
    from teleinforeader import __version__

    sys.stdout.write(f"teleinforeader {__version__}\n")


def _version_action() -> type:
    """--version for argparse, reading the version only when asked."""
    import argparse

    class VersionAction(argparse.Action):
        def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
            super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

        def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
            _print_version()
            parser.exit()

    return VersionAction


def plain_run_arguments(words: Sequence[str]) -> SimpleNamespace | None:
    """`run [--config FILE] [--log-level LEVEL] [--print]`, each at most once, each option
    and its value as two words: the arguments as argparse would give them, without argparse.
    None for anything else, which argparse then reads (and refuses, or explains)."""
    from teleinforeader.logs import LOG_LEVELS

    if words[:1] != ["run"]:
        return None
    found: dict[str, object] = {}
    rest = list(words[1:])
    while rest:
        word = rest.pop(0)
        if word == "--print" and "print_frames" not in found:
            found["print_frames"] = True
        elif word == "--config" and "config" not in found and rest and rest[0][:1] != "-":
            found["config"] = rest.pop(0)
        elif word == "--log-level" and "log_level" not in found and rest:
            level = rest.pop(0).lower()
            if level not in LOG_LEVELS:
                return None
            found["log_level"] = level
        else:
            return None
    return SimpleNamespace(
        version=None,
        command="run",
        config=found.get("config"),
        log_level=found.get("log_level"),
        print_frames=found.get("print_frames", False),
    )


def _with_default_command(argv: list[str]) -> list[str]:
    """`teleinforeader --config F` means `teleinforeader run --config F`; a word that names no
    command is left for argparse to refuse (rather than passed to `run` as a stray argument)."""
    if not argv:
        return [DEFAULT_COMMAND]
    if argv[0].startswith("-") and argv[0] not in {"-h", "--help", "--version"}:
        return [DEFAULT_COMMAND, *argv]
    return argv


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """--config and --log-level, for every command that reads the configuration."""
    from teleinforeader.logs import LOG_LEVELS
    from teleinforeader.settings import DEFAULT_CONFIG_PATH

    parser.add_argument(
        "--config",
        metavar="FILE",
        help=f"the configuration file (default: {DEFAULT_CONFIG_PATH}, or the built-in "
        "defaults when it does not exist)",
    )
    parser.add_argument(
        "--log-level",
        type=str.lower,
        choices=tuple(LOG_LEVELS),
        metavar="LEVEL",
        help=f"override [daemon] log_level: {', '.join(LOG_LEVELS)}",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings `add_config_arguments` asked for; on a mistake, its one-line message on
    stderr (priority err in the journal) and exit status 78 (EX_CONFIG), so systemd does not
    restart a broken daemon."""
    from teleinforeader.config import EX_CONFIG, ConfigError, load_settings
    from teleinforeader.settings import replace

    try:
        settings = load_settings(args.config)
    except ConfigError as error:
        from teleinforeader.logs import print_error

        print_error(str(error))
        raise SystemExit(EX_CONFIG) from None
    if args.log_level:
        settings = replace(settings, daemon=replace(settings.daemon, log_level=args.log_level))
    return settings


def build_parser(command: str) -> tuple[argparse.ArgumentParser, object]:
    """The parser of `command` with its arguments, or with every command listed ("": for
    --help, --version and mistakes). A subparser costs start-up time: only what the command
    line can use is built."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="teleinforeader",
        description="Read a French Enedis meter's TeleInfo stream, store and broadcast it.",
    )
    parser.add_argument("--version", action=_version_action())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    module = None
    for name, (module_name, help_text) in COMMANDS.items():
        if command and name != command:
            continue
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
    return parser, module


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C where a command has no handler of its own
        return 0


def _main(argv: Sequence[str] | None) -> int:
    from teleinforeader import stop_quietly

    if signal.getsignal(signal.SIGINT) is stop_quietly:
        # From here on Ctrl-C is KeyboardInterrupt, which commands such as tail catch.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    args_list = _with_default_command(list(sys.argv[1:] if argv is None else argv))
    if args_list == ["--version"]:
        _print_version()
        return 0
    plain = plain_run_arguments(args_list)
    if plain is not None:  # the daemon as the unit starts it: no parser to build
        from teleinforeader.commands import run

        return int(run.run(plain) or 0)  # type: ignore[arg-type]
    command = args_list[0] if args_list[0] in COMMANDS else None
    if command is None:  # --help or --version
        parser, _ = build_parser("")
        parser.parse_args(args_list)
        return 0
    if command != "run":  # a hang-up ends the others, as for any program (see the package)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
    parser, module = build_parser(command)
    args = parser.parse_args(args_list)
    return int(module.run(args) or 0)  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
