"""The live test's machine: a Debian container booted once for the whole run.

`make test-live` runs these tests (as root), on Debian 12 by default; `make test-live
DEBIAN=bullseye` or `DEBIAN=trixie` on Debian 11 or 13. `make test` leaves them out (they are
marked `live` and deselected there). Where they cannot run, not root or no way to boot a
container, they are skipped with the reason, never passed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.live.container import DEFAULT_RELEASE, CannotBootError, Container, why_not_bootable
from tests.live.machine import Machine

RELEASE = os.environ.get("TELEINFOREADER_LIVE_DEBIAN", DEFAULT_RELEASE)


@pytest.fixture(scope="session")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    reason = why_not_bootable()
    if reason is not None:
        pytest.skip(f"live test not run: {reason}")
    logs = tmp_path_factory.mktemp("live")
    container = Container(RELEASE, logs)
    try:
        container.start()
    except CannotBootError as error:
        container.stop()
        pytest.skip(f"live test not run: a Debian {RELEASE} container does not boot here: {error}")
    print(
        f"\nDebian {RELEASE} booted: "
        + container.sh("python3 --version; systemctl --version | head -1").replace("\n", ", ")
    )
    try:
        yield Machine(container)
    finally:
        container.stop()
