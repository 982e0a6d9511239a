"""The subcommands of the teleinforeader command line, each in its own module."""
