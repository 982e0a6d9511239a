"""The installer: `sudo python3 -m teleinforeader.install` from a checkout or an unpacked sdist.

It does what README's manual steps do, idempotently: the Debian packages it needs, the service's
user in dialout, a virtual environment per release, the configuration with the serial device it
finds, the state directory, the database and its schema, the systemd unit, enabled and started;
and tells what it did and how to check it. Run again, it upgrades and keeps the data and the
edited configuration. `--instance NAME` adds a meter (the unit teleinforeader@NAME), and
`uninstall` removes it all, or one meter, keeping data and configuration unless `--purge`.

It runs with the system's Python before any virtual environment exists, so it uses the standard
library only (and nothing of the rest of the package, which needs pyserial and tomli); its
modules stay small, each with one job, and everything that needs no root is tested in `make
test`; the rest is run for real under systemd by `make test-live`.
"""
