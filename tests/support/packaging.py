"""This project's distributions built as pip builds them: poetry-core's PEP 517 hooks, offline,
by the test environment's poetry-core."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HOOK = (
    "import sys; from poetry.core.masonry import api; print(getattr(api, sys.argv[1])(sys.argv[2]))"
)


def pep517_build(hook: str, tree: Path, directory: Path, timeout: float | None = None) -> Path:
    """Run `hook` ("build_wheel", "build_sdist") on the project in `tree`: the file it wrote
    in `directory`."""
    built = subprocess.run(
        [sys.executable, "-c", HOOK, hook, str(directory)],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )
    return directory / built.stdout.strip()
