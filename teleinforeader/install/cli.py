"""The installer's command line: `install` (the default) and `uninstall`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from teleinforeader.install.layout import Instance, check_instance_name
from teleinforeader.install.report import Report
from teleinforeader.install.system import Host, InstallError, preflight

EXIT_FAILED = 1
PROGRAM = "python3 -m teleinforeader.install"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Install, upgrade or remove teleinforeader as a systemd service (as root).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    install = commands.add_parser(
        "install",
        help="install, or upgrade, and start the service (the default)",
        description="Install or upgrade teleinforeader from this checkout or sdist, configure "
        "the meter's service and start it. Run again to upgrade: the data and the edited "
        "configuration are kept.",
    )
    _add_instance(install)
    install.add_argument(
        "--device",
        metavar="PATH",
        help="the serial device or pyserial URL of the meter (default: the one found, for a new "
        "configuration; an existing one keeps its own)",
    )
    install.add_argument(
        "--local-mariadb",
        action="store_true",
        help="store the frames in a MariaDB server on this machine: install it when missing, "
        "create the database and a user with a generated password",
    )
    install.add_argument(
        "--mqtt",
        metavar="HOST[:PORT]",
        help="publish to this MQTT broker, with Home Assistant discovery (port 1883 unless given)",
    )
    install.add_argument(
        "--mqtt-user",
        metavar="NAME",
        help="the broker account; its password is asked at a terminal, or read from standard "
        "input, and kept in a file (never an argument)",
    )
    install.add_argument(
        "--source",
        type=Path,
        metavar="DIR",
        help="the checkout or unpacked sdist to install (default: the one this installer is in)",
    )
    install.add_argument(
        "--downgrade",
        action="store_true",
        help="install this source even if it is older than the installed release",
    )
    install.add_argument(
        "--yes",
        action="store_true",
        help="ask nothing (no offer to run probe; its command is printed instead)",
    )
    uninstall = commands.add_parser(
        "uninstall",
        help="stop and remove the service and the program, keeping data and configuration",
        description="Stop and remove every meter's service and the program (or one meter "
        "with --instance). The data and the configuration are kept unless --purge.",
    )
    _add_instance(uninstall)
    uninstall.add_argument(
        "--purge",
        action="store_true",
        help="also remove the data (state directories, a MariaDB database the installer "
        "created), the configuration and the user",
    )
    return parser


def _add_instance(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--instance",
        type=_instance_name,
        metavar="NAME",
        help="another meter, as the unit teleinforeader@NAME with its own configuration, state "
        "directory and ports (default: the unit teleinforeader)",
    )


def _instance_name(text: str) -> str:
    try:
        return check_instance_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or (arguments[0].startswith("-") and arguments[0] not in {"-h", "--help"}):
        arguments.insert(0, "install")
    args = build_parser().parse_args(arguments)
    host = Host(Report())
    instance = Instance(args.instance)
    try:
        preflight()
        if args.command == "uninstall":
            from teleinforeader.install.removal import uninstall

            return uninstall(host, instance if args.instance else None, args.purge)
        from teleinforeader.install.configuring import Mqtt
        from teleinforeader.install.installing import Options, install
        from teleinforeader.install.release import find_source

        if args.mqtt_user and not args.mqtt:
            raise InstallError("--mqtt-user needs --mqtt HOST[:PORT], the broker")
        try:
            mqtt = Mqtt.parse(args.mqtt, args.mqtt_user) if args.mqtt else None
        except ValueError as error:
            raise InstallError(str(error)) from None
        options = Options(
            mqtt=mqtt,
            source=find_source(args.source),
            instance=instance,
            device=args.device,
            local_mariadb=args.local_mariadb,
            interactive=sys.stdin.isatty() and not args.yes,
            downgrade=args.downgrade,
        )
        return install(host, options)
    except InstallError as error:
        sys.stderr.write(f"{PROGRAM}: {error}\n")
        return EXIT_FAILED
