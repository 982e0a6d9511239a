"""`teleinforeader check-config`: validate the configuration and show what the daemon would use.

Run it after every edit (and before a restart): it reads the file exactly as the daemon does,
stops at the first mistake with the same one-line error and exit status 78, and otherwise prints
the effective settings, defaults included, as TOML that loads back to the same settings.
"""

from __future__ import annotations

import argparse
import os

from teleinforeader.cli import add_config_arguments, settings_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from teleinforeader.config import NO_FILE, config_path, render_settings
    from teleinforeader.settings import DEFAULT_CONFIG_PATH, PASSWORD_ENVIRONMENT_VARIABLE

    settings = settings_from_args(args)
    chosen = config_path(args.config)
    print(f"# {chosen}" if chosen else f"# {DEFAULT_CONFIG_PATH} does not exist: {NO_FILE}")
    if os.environ.get(PASSWORD_ENVIRONMENT_VARIABLE):
        print(f"# [database.mariadb] password: from ${PASSWORD_ENVIRONMENT_VARIABLE}")
    print(render_settings(settings), end="")
    return 0
