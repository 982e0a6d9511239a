"""What the installer tells the person running it: each thing done or found done, as it goes.

One line per step, marked `+` (done now), `=` (already so, left alone), `!` (needs a look) or
`-` (removed), so that a second run shows at a glance that it changed nothing it did not need
to; long steps say so before they start. Everything goes to stdout at once (a Pi Zero's pip
install takes minutes: silence would look like a hang).
"""

from __future__ import annotations

import sys
from typing import TextIO


class Report:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self.warnings: list[str] = []

    def title(self, text: str) -> None:
        self._write(text)

    def did(self, text: str) -> None:
        self._write(f"  + {text}")

    def kept(self, text: str) -> None:
        self._write(f"  = {text}")

    def removed(self, text: str) -> None:
        self._write(f"  - {text}")

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        self._write(f"  ! {text}")

    def busy(self, text: str) -> None:
        """Before a step that takes a while."""
        self._write(f"    {text}...")

    def block(self, heading: str, lines: list[str]) -> None:
        self._write("")
        self._write(heading)
        for line in lines:
            self._write(f"  {line}" if line else "")

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()
